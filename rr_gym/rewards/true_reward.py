"""The tasks' own rewards, computed from transitions ``(s, a, s')``: the reference point
of reward-quality metrics and a sanity check of the wrappers.

- :class:`PointMazeTrueReward`: PointMaze's reward as a :class:`~rr_gym.rewards.RewardModel`
  (wrapping an env with it reproduces the env's rewards);
- :func:`pointmaze_reward_fn` and :func:`locomotion_reward_fn`: the same as NumPy functions
  of flat transitions ``(obs, act, next_obs) -> (N,)`` (:data:`TransitionRewardFn`), for
  PointMaze and the Gymnasium v5 MuJoCo tasks (tests/rewards/test_true_reward.py checks each
  against ``env.step``'s own rewards).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards.base import TorchRewardModel

__all__ = [
    "GOAL_THRESHOLD",
    "LOCOMOTION_REWARD_TERMS",
    "PointMazeTrueReward",
    "TransitionRewardFn",
    "locomotion_reward_fn",
    "pointmaze_reward_fn",
]

#: A task reward of flat transitions: ``(obs (N, O), act (N, A), next_obs (N, O)) -> (N,)``.
TransitionRewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

MazeRewardType = Literal["sparse", "dense"]
GOAL_THRESHOLD = 0.45  # gymnasium_robotics MazeEnv: success within 0.45 of the goal


class PointMazeTrueReward(TorchRewardModel):
    """PointMaze's reward of a transition: ``1[d <= 0.45]`` (sparse) or ``exp(-d)`` (dense).

    ``d`` is the distance from the position after the step to the goal, as
    ``gymnasium_robotics`` computes it. The position is read from the layout field
    ``"next_achieved_goal"`` if present, else from the first two entries of
    ``"next_observation"`` (PointMaze's ``observation`` is ``[x, y, vx, vy]``). The goal is
    the fixed ``goal`` if given, else the layout field ``"desired_goal"`` (or
    ``"next_desired_goal"``). It has no parameters, ignores the diffusion step, scores
    single transitions (``window = 1``) and saves as a checkpoint like any reward.

    Args:
        layout: the transitions' layout; default ``observation, action, next_observation,
            desired_goal`` (sizes 4, 2, 4, 2) without ``goal``, or the first three with it.
        normalizer: the raw-to-model-space map of inputs (identity if None).
        reward_type: ``"sparse"`` or ``"dense"``, as the env's ``reward_type``.
        goal: a fixed goal ``(x, y)``; ``None`` to read it from the transition.
        threshold: success distance.
        metadata: JSON-friendly facts saved with the checkpoint.

    Raises:
        ConfigError: a layout without a position or goal field, or a bad option.

    Example:
        >>> import numpy as np
        >>> reward = PointMazeTrueReward(goal=(1.0, 0.0))
        >>> x = np.zeros((2, 10), dtype=np.float32)  # observation, action, next_observation
        >>> x[1, 6] = 0.8  # second transition ends at (0.8, 0), within 0.45 of the goal
        >>> reward.predict(x)
        array([0., 1.], dtype=float32)
    """

    def __init__(
        self,
        layout: TransitionLayout | None = None,
        normalizer: Normalizer | None = None,
        *,
        reward_type: MazeRewardType = "sparse",
        goal: Sequence[float] | None = None,
        threshold: float = GOAL_THRESHOLD,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if layout is None:
            sizes = {"observation": 4, "action": 2, "next_observation": 4}
            if goal is None:
                sizes["desired_goal"] = 2
            layout = TransitionLayout.from_sizes(observation_key="observation", **sizes)
        super().__init__(layout, normalizer, window=1, metadata=metadata)
        if reward_type not in ("sparse", "dense"):
            raise ConfigError(f"reward_type={reward_type!r}; expected 'sparse' or 'dense'")
        if not threshold > 0:
            raise ConfigError(f"threshold={threshold}; expected a positive distance")
        self.reward_type: MazeRewardType = reward_type
        self.threshold = float(threshold)
        if "next_achieved_goal" in layout:
            pos = layout.slice("next_achieved_goal")
        elif "next_observation" in layout:
            pos = layout.slice("next_observation")
        else:
            raise ConfigError(
                f"layout {layout} has neither 'next_achieved_goal' nor 'next_observation'; "
                "PointMaze's reward needs the position after the step"
            )
        if pos.stop - pos.start < 2:
            raise ConfigError(f"position field of layout {layout} has fewer than 2 entries")
        self._pos = slice(pos.start, pos.start + 2)
        self._goal_slice: slice | None = None
        if goal is not None:
            values = [float(v) for v in goal]
            if len(values) != 2:
                raise ConfigError(f"goal={goal!r}; expected two numbers (x, y)")
            self.register_buffer(
                "goal", torch.tensor(values, dtype=torch.float32), persistent=False
            )
        else:
            for name in ("desired_goal", "next_desired_goal"):
                if name in layout:
                    self._goal_slice = layout.slice(name)
                    break
            else:
                raise ConfigError(
                    f"layout {layout} has no 'desired_goal' field and no fixed goal was given; "
                    "add the field or pass goal=(x, y)"
                )
            self.register_buffer("goal", torch.zeros(0), persistent=False)

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Env reward of windows ``w`` ``(M, 1, D)`` (normalised); ``t`` is ignored."""
        raw = self.normalizer.unnormalize(w[:, -1])
        goal = raw[:, self._goal_slice] if self._goal_slice is not None else self.goal
        distance = torch.linalg.vector_norm(raw[:, self._pos] - goal, dim=-1)
        if self.reward_type == "dense":
            return torch.exp(-distance)
        return (distance <= self.threshold).to(raw.dtype)


def pointmaze_reward_fn(
    goal: Sequence[float],
    reward_type: MazeRewardType = "dense",
    threshold: float = GOAL_THRESHOLD,
) -> TransitionRewardFn:
    """PointMaze's reward with a fixed ``goal`` ``(x, y)`` of flat transitions (the maze's
    ``observation`` entry ``[x, y, vx, vy]``): :class:`PointMazeTrueReward`'s, in NumPy.

    >>> reward = pointmaze_reward_fn((1.0, 0.0), "sparse")
    >>> obs = np.zeros((2, 4)); obs[1, 0] = 0.8
    >>> reward(obs, np.zeros((2, 2)), obs)
    array([0., 1.])
    """
    model = PointMazeTrueReward(reward_type=reward_type, goal=goal, threshold=threshold)

    def reward(obs: np.ndarray, act: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        x = np.concatenate([obs, act, next_obs], axis=1).astype(np.float32)
        return model.predict(x).astype(np.float64)

    return reward


#: Per-env terms of the Gymnasium v5 MuJoCo rewards as read off observations: index of the
#: forward velocity, control cost weight, healthy reward, healthy z range, healthy angle
#: range (observation entries 0 and 1), and the first entry of the state that must stay
#: within +-100 (Hopper's healthy check; None: no such check or no healthy reward at all).
LOCOMOTION_REWARD_TERMS: dict[str, dict[str, Any]] = {
    "hopper": {"vel": 5, "ctrl": 1e-3, "z": (0.7, np.inf), "angle": (-0.2, 0.2), "state": 1},
    "walker2d": {"vel": 8, "ctrl": 1e-3, "z": (0.8, 2.0), "angle": (-1.0, 1.0), "state": None},
    "halfcheetah": {"vel": 8, "ctrl": 0.1, "z": None, "angle": None, "state": None},
}


def locomotion_reward_fn(env: str) -> TransitionRewardFn:
    """The v5 reward of ``env`` (hopper, walker2d, halfcheetah) from observations: healthy
    bonus (1 while healthy after the step) + forward velocity - control cost.

    The env's forward reward is the x displacement over the frame skip divided by its
    duration, and observations hold no x position, so the velocity is the mean of the
    observed x velocities before and after the step (measured against ``env.step``, 3,000
    random-action steps: Pearson 1.000 on Hopper, 0.9998 on Walker2d, 0.97 on HalfCheetah,
    whose velocity changes most within a frame skip; the velocity after the step alone:
    0.996, 0.980, 0.93).

    Raises:
        ConfigError: an env without known reward terms.
    """
    if env not in LOCOMOTION_REWARD_TERMS:
        raise ConfigError(
            f"no true reward for env {env!r}; expected one of {sorted(LOCOMOTION_REWARD_TERMS)}"
        )
    terms = LOCOMOTION_REWARD_TERMS[env]

    def reward(obs: np.ndarray, act: np.ndarray, next_obs: np.ndarray) -> np.ndarray:
        before, after = np.asarray(obs, np.float64), np.asarray(next_obs, np.float64)
        velocity = 0.5 * (before[:, terms["vel"]] + after[:, terms["vel"]])
        r = velocity - terms["ctrl"] * np.square(np.asarray(act, np.float64)).sum(1)
        if terms["z"] is not None:
            healthy = (after[:, 0] > terms["z"][0]) & (after[:, 0] < terms["z"][1])
            healthy &= (after[:, 1] > terms["angle"][0]) & (after[:, 1] < terms["angle"][1])
            if terms["state"] is not None:
                healthy &= (np.abs(after[:, terms["state"] :]) < 100).all(1)
            r = r + healthy
        return r

    return reward
