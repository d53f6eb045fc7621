"""PointMaze's own reward as a RewardModel, computed from transitions ``(s, a, s')``.

Wrapping an env with it reproduces the env's rewards, which makes it the reference point
of reward-quality metrics and a sanity check of the wrappers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from rr_gym.errors import CheckpointError, ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards.base import TorchRewardModel

__all__ = ["PointMazeTrueReward"]

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
            self.register_buffer("goal", torch.tensor(values, dtype=torch.float32))
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
            self.register_buffer("goal", torch.zeros(0))

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Env reward of windows ``w`` ``(M, 1, D)`` (normalised); ``t`` is ignored."""
        raw = self.normalizer.unnormalize(w[:, -1])
        goal = raw[:, self._goal_slice] if self._goal_slice is not None else self.goal
        distance = torch.linalg.vector_norm(raw[:, self._pos] - goal, dim=-1)
        if self.reward_type == "dense":
            return torch.exp(-distance)
        return (distance <= self.threshold).to(raw.dtype)

    def checkpoint_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        config = {
            "layout": self.layout.to_dict(),
            "normalizer": self.normalizer.to_dict(),
            "reward_type": self.reward_type,
            "goal": self.goal.tolist() if self._goal_slice is None else None,
            "threshold": self.threshold,
            "metadata": self.metadata,
        }
        return {}, config

    @classmethod
    def from_checkpoint_state(
        cls, tensors: dict[str, torch.Tensor], config: dict[str, Any]
    ) -> PointMazeTrueReward:
        if tensors:
            raise CheckpointError(
                f"PointMazeTrueReward has no weights, but the checkpoint holds {sorted(tensors)}"
            )
        return cls(
            TransitionLayout.from_dict(config["layout"]),
            Normalizer.from_dict(config["normalizer"]),
            reward_type=config["reward_type"],
            goal=config.get("goal"),
            threshold=float(config["threshold"]),
            metadata=config.get("metadata"),
        )
