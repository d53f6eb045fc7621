"""The tasks' true rewards from transitions (PointMaze, MuJoCo v5), checked against the envs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rr_gym
from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import PointMazeTrueReward
from rr_gym.rewards.true_reward import locomotion_reward_fn, pointmaze_reward_fn


def test_goal_from_the_transition_and_dense_rewards() -> None:
    reward = PointMazeTrueReward(reward_type="dense")
    x = np.zeros((2, 12), np.float32)  # observation, action, next_observation, desired_goal
    x[:, 10:] = [3.0, 4.0]
    x[1, 6:8] = [3.0, 4.0]
    np.testing.assert_allclose(reward.predict(x), [np.exp(-5.0), 1.0], rtol=1e-6)


def test_position_from_next_achieved_goal_under_a_normaliser() -> None:
    layout = TransitionLayout.from_sizes(next_achieved_goal=2, desired_goal=2)
    norm = Normalizer(np.array([1.0, 1.0, 0.0, 0.0]), np.array([2.0, 2.0, 1.0, 1.0]), "gaussian")
    reward = PointMazeTrueReward(layout, norm)
    x = np.array([[0.5, 0.5, 0.0, 0.0], [0.3, 0.3, 0.0, 0.0]], np.float32)
    np.testing.assert_array_equal(reward.predict(x), [0.0, 1.0])


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    reward = PointMazeTrueReward(goal=(1.0, -2.0), reward_type="dense", threshold=0.3)
    reward.save(tmp_path / "true")
    loaded = rr_gym.load(tmp_path / "true")
    assert isinstance(loaded, PointMazeTrueReward)
    assert (loaded.reward_type, loaded.threshold, loaded.goal.tolist()) == ("dense", 0.3, [1, -2])
    x = np.random.default_rng(0).normal(size=(5, 10)).astype(np.float32)
    np.testing.assert_array_equal(loaded.predict(x), reward.predict(x))


def test_layouts_without_position_or_goal_are_refused() -> None:
    with pytest.raises(ConfigError, match="next_observation"):
        PointMazeTrueReward(TransitionLayout.from_sizes(observation=4, desired_goal=2))
    with pytest.raises(ConfigError, match="goal=\\(x, y\\)"):
        PointMazeTrueReward(TransitionLayout.from_sizes(observation=4, next_observation=4))
    with pytest.raises(ConfigError, match="reward_type"):
        PointMazeTrueReward(reward_type="shaped")  # type: ignore[arg-type]


def _random_steps(env, steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``steps`` transitions of random actions (reset on episode end) and the env's rewards."""
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    rows: dict[str, list] = {"obs": [], "act": [], "next_obs": [], "reward": []}
    obs, _ = env.reset(seed=seed)
    for _ in range(steps):
        act = np.clip(rng.normal(0.0, 0.5, env.action_space.shape), -1, 1).astype(np.float32)
        nxt, reward, terminated, truncated, _ = env.step(act)
        for key, value in zip(rows, (obs, act, nxt, reward), strict=True):
            rows[key].append(value)
        obs = env.reset()[0] if terminated or truncated else nxt
    return {k: np.asarray(v) for k, v in rows.items()}


@pytest.mark.parametrize(
    ("env_name", "env_id", "min_pearson", "max_mae"),
    # measured over 3,000 steps: 1.0000 / 0.0013, 0.9998 / 0.0063, 0.965 / 0.12 (HalfCheetah's
    # velocity changes most within its frame skip of 5)
    [
        ("hopper", "Hopper-v5", 0.9999, 0.005),
        ("walker2d", "Walker2d-v5", 0.999, 0.02),
        ("halfcheetah", "HalfCheetah-v5", 0.95, 0.2),
    ],
)
def test_locomotion_rewards_match_the_envs_own(
    env_name: str, env_id: str, min_pearson: float, max_mae: float
) -> None:
    import gymnasium as gym

    steps = _random_steps(gym.make(env_id), 1500)
    got = locomotion_reward_fn(env_name)(steps["obs"], steps["act"], steps["next_obs"])
    assert got.shape == steps["reward"].shape
    assert np.corrcoef(got, steps["reward"])[0, 1] > min_pearson
    assert np.abs(got - steps["reward"]).mean() < max_mae
    with pytest.raises(ConfigError, match="no true reward for env 'ant'; expected one of"):
        locomotion_reward_fn("ant")


@pytest.mark.parametrize("reward_type", ["sparse", "dense"])
def test_pointmaze_rewards_match_the_envs_own(reward_type: str) -> None:
    from rr_gym.data.maze import make_goal_env

    # episodes start in the goal cell (3, 1), so random actions move in and out of the goal
    env = make_goal_env("umaze", 6, reward_type=reward_type, max_episode_steps=100)
    start = {"reset_cell": np.array([3, 1])}
    rows: dict[str, list] = {"obs": [], "act": [], "next_obs": [], "goal": [], "reward": []}
    obs, _ = env.reset(seed=0, options=start)
    env.action_space.seed(0)
    for _ in range(600):
        act = env.action_space.sample()
        nxt, reward, terminated, truncated, _ = env.step(act)
        values = (obs["observation"], act, nxt["observation"], nxt["desired_goal"], reward)
        for key, value in zip(rows, values, strict=True):
            rows[key].append(value)
        obs = env.reset(options=start)[0] if terminated or truncated else nxt
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    # the goal read from the transition (the env's noisy goal position)
    model = PointMazeTrueReward(reward_type=reward_type)
    x = np.concatenate([arrays[k] for k in ("obs", "act", "next_obs", "goal")], axis=1)
    np.testing.assert_allclose(model.predict(x.astype(np.float32)), arrays["reward"], atol=1e-5)
    # a fixed goal: the same rewards for an env whose goal is that point
    goal = tuple(arrays["goal"][0])
    fixed = arrays["goal"] == arrays["goal"][0]
    same = fixed.all(1)
    assert same.sum() >= 100  # the first episode
    fn = pointmaze_reward_fn(goal, reward_type)
    got = fn(arrays["obs"][same], arrays["act"][same], arrays["next_obs"][same])
    np.testing.assert_allclose(got, arrays["reward"][same], atol=1e-5)
    if reward_type == "sparse":
        assert 0 < arrays["reward"].sum() < len(arrays["reward"])  # both outcomes occur
