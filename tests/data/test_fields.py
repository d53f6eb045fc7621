"""Layout inference and transition matrices from episodes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rr_gym.data.fields import available_fields, episode_transitions, infer_layout
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout

BOX4 = gym.spaces.Box(-1.0, 1.0, (4,))
BOX2 = gym.spaces.Box(-1.0, 1.0, (2,))
MAZE_OBS = gym.spaces.Dict({"observation": BOX4, "achieved_goal": BOX2, "desired_goal": BOX2})


def test_pointmaze_layout_is_inferred() -> None:
    layout = infer_layout(MAZE_OBS, BOX2)
    assert layout == TransitionLayout(
        fields=(("observation", 4), ("action", 2)), observation_key="observation"
    )


def test_flat_layout_is_inferred() -> None:
    layout = infer_layout(gym.spaces.Box(-1, 1, (11,)), gym.spaces.Box(-1, 1, (3,)))
    assert layout.fields == (("observation", 11), ("action", 3))
    assert layout.observation_key is None


def test_unsupported_spaces_are_named() -> None:
    with pytest.raises(ConfigError, match="Discrete"):
        infer_layout(BOX4, gym.spaces.Discrete(3))
    with pytest.raises(ConfigError, match=r"no entry 'observation'.*'achieved_goal'"):
        infer_layout(gym.spaces.Dict({"achieved_goal": BOX2}), BOX2)


def test_available_fields() -> None:
    fields = available_fields(MAZE_OBS, BOX2)
    assert fields["observation"] == 4 and fields["next_desired_goal"] == 2
    assert fields["action"] == 2 and fields["reward"] == 1


def _maze_episode(n: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    obs = {
        "observation": np.arange((n + 1) * 4, dtype=float).reshape(n + 1, 4),
        "achieved_goal": np.zeros((n + 1, 2)),
        "desired_goal": np.ones((n + 1, 2)),
    }
    return obs, np.full((n, 2), 0.5, np.float32), np.arange(n, dtype=float)


def test_transitions_follow_the_layout() -> None:
    obs, act, rew = _maze_episode(5)
    layout = TransitionLayout(
        fields=(
            ("observation", 4),
            ("action", 2),
            ("reward", 1),
            ("next_observation", 4),
            ("desired_goal", 2),
        ),
        observation_key="observation",
    )
    x = episode_transitions(obs, act, rew, layout)
    assert x.shape == (5, 13) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, :4], obs["observation"][:5])
    np.testing.assert_array_equal(x[:, 4:6], act)
    np.testing.assert_array_equal(x[:, 6], rew)
    np.testing.assert_array_equal(x[:, 7:11], obs["observation"][1:])
    np.testing.assert_array_equal(x[:, 11:], 1.0)


def test_missing_field_names_the_valid_ones() -> None:
    obs, act, rew = _maze_episode(3)
    layout = TransitionLayout.from_sizes(observation=4, velocity=2)
    with pytest.raises(DataError, match=r"'velocity'.*valid field names.*achieved_goal"):
        episode_transitions(obs, act, rew, layout)
    flat = TransitionLayout.from_sizes(observation=4, action=2, observation_key="pixels")
    with pytest.raises(DataError, match=r"'pixels'.*keys"):
        episode_transitions(obs, act, rew, flat)


def test_wrong_field_size_is_an_error() -> None:
    obs, act, rew = _maze_episode(3)
    with pytest.raises(DataError, match=r"'action' has size 3"):
        episode_transitions(obs, act, rew, TransitionLayout.from_sizes(observation=4, action=3))
