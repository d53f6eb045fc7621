"""The reward-relabelling VecEnv wrapper."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from stable_baselines3.common.env_util import make_vec_env

from rr_gym.baselines.relabel import RelabelVecEnv
from tests.baselines.conftest import PENDULUM_LAYOUT


def test_relabels_rewards_and_records_whole_transitions() -> None:
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def reward_fn(rows: np.ndarray, dones: np.ndarray) -> np.ndarray:
        seen.append((rows, dones))
        return rows[:, 3] * 10.0  # the action, scaled

    venv = make_vec_env(lambda: gym.make("Pendulum-v1", max_episode_steps=5), n_envs=2, seed=0)
    env = RelabelVecEnv(venv, PENDULUM_LAYOUT, reward_fn)
    obs = env.reset()
    for step in range(7):
        actions = np.full((2, 1), 0.1 * step, np.float32)
        new_obs, rewards, dones, infos = env.step(actions)
        np.testing.assert_allclose(rewards, 10.0 * actions[:, 0], rtol=1e-6)
        rows = seen[-1][0]
        np.testing.assert_array_equal(rows[:, :3], obs)
        for i in range(2):
            expected_next = infos[i]["terminal_observation"] if dones[i] else new_obs[i]
            np.testing.assert_allclose(rows[i, 4:], expected_next, rtol=1e-6)
            assert "env_reward" in infos[i]
        assert not seen[-1][1].any()  # time-limit ends are truncations, not terminations
        obs = new_obs
    got = env.pop()
    assert got.transitions.shape == (14, 7) and got.terminated.shape == (14,)
    assert len(got.episode_returns) == 2 and all(r < 0 for r in got.episode_returns)
    assert env.pop().transitions.shape == (0, 7)
