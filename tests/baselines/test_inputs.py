"""Transitions and windows from arrays, WindowDatasets and Minari; the space checks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rr_gym.baselines.inputs import (
    Transitions,
    check_env_spaces,
    env_layout,
    load_transitions,
    transition_rows,
)
from rr_gym.data import make_transitions, make_windows
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from tests.baselines.conftest import PENDULUM_LAYOUT

BOX3, BOX1 = gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-2, 2, (1,))


def test_minari_dataset_gives_next_observations_and_terminations(pendulum_dataset: str) -> None:
    data = load_transitions(pendulum_dataset)
    assert data.layout == PENDULUM_LAYOUT and len(data) == 300
    np.testing.assert_array_equal(
        data.field("observation")[1:100], data.field("next_observation")[:99]
    )
    assert not data.dones.any()
    assert data.metadata["env_id"] == "Pendulum-v1"
    check_env_spaces(BOX3, BOX1, data)
    with pytest.raises(DataError, match="recorded with observation_space"):
        wide = Transitions(data.data, data.layout, data.dones, data.metadata)
        check_env_spaces(gym.spaces.Box(-1, 1, (1, 3)), BOX1, wide)


def test_window_datasets(pendulum_dataset: str) -> None:
    data = load_transitions(make_transitions(pendulum_dataset, progress=False))
    assert data.layout == TransitionLayout.from_sizes(observation=3, action=1)
    with pytest.raises(DataError, match="expected horizon 1"):
        load_transitions(make_windows(pendulum_dataset, horizon=2, progress=False))


def test_arrays_and_layout_guessing() -> None:
    candidates = [env_layout(BOX3, BOX1, next_observation=False), PENDULUM_LAYOUT]
    assert load_transitions(np.zeros((5, 7)), candidates=candidates).layout == PENDULUM_LAYOUT
    assert load_transitions(np.zeros((5, 1, 4)), candidates=candidates).layout.dim == 4
    with pytest.raises(DataError, match="shape \\(5,\\)"):
        load_transitions(np.zeros(5), candidates=candidates)
    with pytest.raises(DataError, match="non-finite"):
        load_transitions(np.full((5, 4), np.nan), candidates=candidates)
    with pytest.raises(DataError, match="without the field\\(s\\) \\['action'\\]"):
        load_transitions(np.zeros((5, 3)), layout=TransitionLayout.from_sizes(observation=3))


def test_env_checks_and_rollout_rows() -> None:
    with pytest.raises(ConfigError, match="Dict; the adversarial baselines need a Box"):
        env_layout(gym.spaces.Dict({"observation": BOX3}), BOX1, next_observation=True)
    data = Transitions(np.zeros((4, 7)), PENDULUM_LAYOUT, np.zeros(4, bool))
    with pytest.raises(DataError, match=r"action size 1 .* size 2"):
        check_env_spaces(BOX3, gym.spaces.Box(-1, 1, (2,)), data)
    with pytest.raises(ConfigError, match="expected a Box"):
        check_env_spaces(BOX3, gym.spaces.Discrete(3), data)
    rows = transition_rows(PENDULUM_LAYOUT, np.ones((2, 3)), np.zeros((2, 1)), np.full((2, 3), 2.0))
    np.testing.assert_array_equal(rows[0], [1, 1, 1, 0, 2, 2, 2])
    with pytest.raises(ConfigError, match="'reward' cannot be built"):
        transition_rows(TransitionLayout.from_sizes(reward=1), np.ones((2, 3)), None, None)  # type: ignore[arg-type]
