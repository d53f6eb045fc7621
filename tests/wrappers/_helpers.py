"""Tiny envs, models and an independent reference for the wrapper tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from rr_gym.data.fields import episode_transitions
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import RelativeRewardModel, RewardModel
from tests._factories import seeded


class LineEnv(gym.Env[np.ndarray, np.ndarray]):
    """A point on a line: obs ``[pos, vel, t]`` (float32), action ``(1,)`` in [-1, 1].

    Reward ``-pos**2``; the episode terminates after ``length`` steps. ``nan_at`` makes the
    observation of that step NaN; ``dict_obs`` returns ``{"observation": obs, "goal": [1, -1]}``.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(self, length: int = 5, nan_at: int | None = None, dict_obs: bool = False):
        self.length = length
        self.nan_at = nan_at
        self.dict_obs = dict_obs
        box = gym.spaces.Box(-np.inf, np.inf, (3,), np.float32)
        if dict_obs:
            goal = gym.spaces.Box(-5.0, 5.0, (2,), np.float32)
            self.observation_space = gym.spaces.Dict({"observation": box, "goal": goal})
        else:
            self.observation_space = box
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self._state = np.zeros(3, np.float32)

    def _obs(self) -> Any:
        obs = self._state.copy()
        if self.nan_at is not None and int(self._state[2]) == self.nan_at:
            obs[0] = np.nan
        if self.dict_obs:
            return {"observation": obs, "goal": np.array([1.0, -1.0], np.float32)}
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._state = np.array([self.np_random.uniform(-1, 1), 0.0, 0.0], np.float32)
        return self._obs(), {}

    def step(self, action: np.ndarray):
        a = float(np.clip(np.asarray(action).reshape(-1)[0], -1, 1))
        pos, vel, t = self._state
        vel = 0.9 * vel + 0.1 * a
        pos = pos + vel
        self._state = np.array([pos, vel, t + 1], np.float32)
        terminated = bool(t + 1 >= self.length)
        return self._obs(), float(-(pos**2)), terminated, False, {}


LINE_LAYOUT = TransitionLayout.from_sizes(observation=3, action=1, next_observation=3)


def line_model(window: int = 1, seed: int = 0, **kwargs: Any) -> RelativeRewardModel:
    """A tiny relative reward over LineEnv transitions, with a Gaussian normaliser."""
    layout = kwargs.pop("layout", LINE_LAYOUT)
    dim = layout.dim
    norm = kwargs.pop("normalizer", None) or Normalizer(
        np.linspace(-0.5, 0.5, dim), np.linspace(0.5, 2.0, dim), "gaussian"
    )
    return seeded(
        lambda: RelativeRewardModel(
            layout,
            norm,
            window=window,
            hidden_dim=16,
            depth=2,
            time_dim=8,
            **kwargs,
        ),
        seed,
    )


def reference_rewards(
    model: RewardModel,
    observations: list[Any],
    actions: list[np.ndarray],
    env_rewards: list[float],
) -> np.ndarray:
    """``model.predict`` of one episode's windows, built with the dataset code path.

    ``observations`` has one more entry than ``actions``. Windows are padded at the start by
    repeating the first transition, as the wrappers document.
    """
    if isinstance(observations[0], Mapping):
        obs: Any = {k: np.stack([o[k] for o in observations]) for k in observations[0]}
    else:
        obs = np.stack(observations)
    x = episode_transitions(obs, np.stack(actions), np.asarray(env_rewards), model.layout)
    w = model.window
    padded = np.concatenate([np.repeat(x[:1], w - 1, axis=0), x])
    windows = np.lib.stride_tricks.sliding_window_view(padded, w, axis=0).transpose(0, 2, 1)
    return model.predict(np.array(windows), t=0)


class ConstantPlusAction:
    """A RewardModel that is not a torch module: reward = 1 + sum of the action entries."""

    def __init__(self, layout: TransitionLayout) -> None:
        self.layout = layout
        self.normalizer = Normalizer.identity(layout.dim)
        self.window = 1

    def forward(self, x: Any, t: Any = 0) -> Any:
        return 1.0 + x[:, -1, self.layout.slice("action")].sum(-1)

    def predict(self, x: np.ndarray, t: int = 0) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, None]
        return (1.0 + arr[:, -1, self.layout.slice("action")].sum(-1)).astype(np.float32)


def run_episode(env: gym.Env[Any, Any], actions: np.ndarray, seed: int) -> dict[str, list[Any]]:
    """Step ``env`` through ``actions`` from ``reset(seed)``; stops at the episode's end."""
    obs, _ = env.reset(seed=seed)
    out: dict[str, list[Any]] = {"obs": [obs], "actions": [], "rewards": [], "infos": []}
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        out["obs"].append(obs)
        out["actions"].append(np.asarray(a))
        out["rewards"].append(reward)
        out["infos"].append(info)
        if terminated or truncated:
            break
    return out
