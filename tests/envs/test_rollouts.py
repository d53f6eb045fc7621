"""evaluate_policy: episode accounting on single and vector envs, both autoreset modes."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rr_gym.envs import evaluate_policy
from rr_gym.errors import ConfigError


class Countdown(gym.Env[np.ndarray, np.ndarray]):
    """Episodes of ``length`` steps (set by reset options, default 3); reward = action[0];
    ``info["success"]`` on the step where ``action[0] > 0.5``."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, length: int = 3) -> None:
        self.default_length = length
        self.length = length
        self.t = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.length = (options or {}).get("length", self.default_length)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.t += 1
        obs = np.full(1, self.t, np.float32)
        return obs, float(action[0]), self.t >= self.length, False, {"success": action[0] > 0.5}


class Recorder:
    """A policy returning ``value`` and recording the observations and episode starts."""

    def __init__(self, value: float = 0.25) -> None:
        self.value = value
        self.observations: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []

    def predict(self, observation: Any, *, episode_start: np.ndarray | None = None) -> np.ndarray:
        obs = np.asarray(observation)
        self.observations.append(obs[:, 0].copy())
        assert episode_start is not None
        self.starts.append(np.asarray(episode_start).copy())
        return np.full((len(obs), 1), self.value, np.float32)


def test_single_env_episodes_and_reset_options() -> None:
    policy = Recorder(0.25)
    stats = evaluate_policy(policy, Countdown(), 4, reset_options={"length": 2}, progress=False)
    np.testing.assert_array_equal(stats.lengths, [2, 2, 2, 2])  # options reused on every reset
    np.testing.assert_allclose(stats.returns, [0.5] * 4)
    assert not stats.successes.any() and stats.success_rate == 0.0
    assert [int(s[0]) for s in policy.starts] == [1, 0] * 4
    assert stats.decisions_per_s > 0 and stats.summary()["episodes"] == 4.0


@pytest.mark.parametrize(
    "mode", [gym.vector.AutoresetMode.NEXT_STEP, gym.vector.AutoresetMode.SAME_STEP]
)
def test_vector_env_skips_autoreset_steps_and_flags_new_episodes(
    mode: gym.vector.AutoresetMode,
) -> None:
    env = gym.vector.SyncVectorEnv(
        [lambda: Countdown(2), lambda: Countdown(3)], autoreset_mode=mode
    )
    policy = Recorder(0.75)
    stats = evaluate_policy(policy, env, 4, progress=False)
    # Two episodes per sub-env, whatever their lengths.
    assert sorted(stats.lengths.tolist()) == [2, 2, 3, 3]
    np.testing.assert_allclose(sorted(stats.returns), [1.5, 1.5, 2.25, 2.25])
    assert stats.successes.all()
    # Every episode's first observation (0) reached the policy flagged as a start. In
    # next-step mode the terminal observation is flagged too: its action only triggers the
    # reset and is discarded, so a fresh plan there costs nothing but time.
    for obs, start in zip(policy.observations, policy.starts, strict=True):
        np.testing.assert_array_equal(start[obs == 0], True)
        if mode == gym.vector.AutoresetMode.SAME_STEP:
            np.testing.assert_array_equal(start[obs > 0], False)


def test_disabled_autoreset_and_bad_counts_are_refused() -> None:
    env = gym.vector.SyncVectorEnv(
        [lambda: Countdown()], autoreset_mode=gym.vector.AutoresetMode.DISABLED
    )
    with pytest.raises(ConfigError, match="DISABLED"):
        evaluate_policy(Recorder(), env, 1, progress=False)
    with pytest.raises(ConfigError, match="n_episodes=0"):
        evaluate_policy(Recorder(), Countdown(), 0, progress=False)
