"""Reward relabelling for the adversarial baselines: an SB3 VecEnv wrapper that replaces the
env's reward by the discriminator's and records the learner's transitions.

Why a VecEnv wrapper rather than rewriting PPO's rollout buffer: the wrapper sees each
transition whole (observation, executed action, next observation, with the true terminal
observation of finished episodes), so the reward is computed where it belongs and PPO's own
rollout logic is untouched: its bootstrap of truncated episodes (``gamma * V(s_T)`` added to
the reward), its advantage computation and its episode statistics all work as for any env.
Rewriting the buffer after collection would have to undo and redo that bootstrap, recompute
advantages, and recover next observations that the buffer does not store. imitation takes
the same route (``RewardVecEnvWrapper`` over a ``BufferingWrapper``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from rr_gym.baselines.inputs import transition_rows
from rr_gym.layout import TransitionLayout

__all__ = ["Collected", "RelabelVecEnv", "RewardFn"]

#: ``(transitions (n, D), terminated (n,)) -> rewards (n,)``.
RewardFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class Collected(NamedTuple):
    """Transitions the learner played since the last :meth:`RelabelVecEnv.pop`.

    Attributes:
        transitions: ``(n, D)`` float32 laid out by the wrapper's layout.
        terminated: ``(n,)`` bool, True where the episode terminated after the transition.
        rewards: ``(n,)`` float32 learned rewards given to the learner.
        episode_returns: true (env) returns of the episodes that ended.
    """

    transitions: np.ndarray
    terminated: np.ndarray
    rewards: np.ndarray
    episode_returns: list[float]


class RelabelVecEnv(VecEnvWrapper):
    """Replaces rewards by ``reward_fn`` of each transition and buffers the transitions.

    The env's own reward is kept in ``info["env_reward"]``; episode returns reported by a
    ``Monitor`` below this wrapper stay the true returns.

    Args:
        venv: the vectorised env (Box observations and actions).
        layout: how transitions are laid out (``observation``, ``action``,
            ``next_observation`` fields).
        reward_fn: the learned reward.

    Shapes:
        ``reward_fn`` gets ``(num_envs, layout.dim)`` transitions and ``(num_envs,)``
        termination flags (True where the episode terminated, not truncated).
    """

    def __init__(self, venv: VecEnv, layout: TransitionLayout, reward_fn: RewardFn) -> None:
        super().__init__(venv)
        self.layout = layout
        self.reward_fn = reward_fn
        self._last_obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self._rows: list[np.ndarray] = []
        self._dones: list[np.ndarray] = []
        self._rewards: list[np.ndarray] = []
        self._returns: list[float] = []

    def reset(self) -> Any:
        obs = self.venv.reset()
        self._last_obs = np.asarray(obs)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> Any:
        obs, env_rewards, dones, infos = self.venv.step_wait()
        assert self._last_obs is not None and self._actions is not None, "reset() first"
        next_obs = np.array(obs, copy=True)
        terminated = np.zeros(len(dones), bool)
        for i, done in enumerate(dones):
            infos[i]["env_reward"] = float(env_rewards[i])
            if done:
                next_obs[i] = infos[i]["terminal_observation"]
                terminated[i] = not infos[i].get("TimeLimit.truncated", False)
                if "episode" in infos[i]:  # a Monitor below reports the true return
                    self._returns.append(float(infos[i]["episode"]["r"]))
        rows = transition_rows(self.layout, self._last_obs, self._actions, next_obs)
        rewards = np.asarray(self.reward_fn(rows, terminated), np.float32).reshape(-1)
        self._rows.append(rows)
        self._dones.append(terminated)
        self._rewards.append(rewards)
        self._last_obs = np.asarray(obs)
        return obs, rewards, dones, infos

    def pop(self) -> Collected:
        """What was collected since the last call (and forget it)."""
        if not self._rows:
            empty = np.zeros(0, np.float32)
            out = Collected(
                np.zeros((0, self.layout.dim), np.float32), empty.astype(bool), empty, []
            )
        else:
            out = Collected(
                np.concatenate(self._rows),
                np.concatenate(self._dones),
                np.concatenate(self._rewards),
                list(self._returns),
            )
        self._rows, self._dones, self._rewards, self._returns = [], [], [], []
        return out
