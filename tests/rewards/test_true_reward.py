"""PointMazeTrueReward: PointMaze's reward from transitions, with checkpoint support."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rr_gym
from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import PointMazeTrueReward


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
