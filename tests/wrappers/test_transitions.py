"""TransitionBuilder reads layouts exactly as datasets do; WindowHistory pads and shifts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rr_gym.data.fields import episode_transitions
from rr_gym.errors import IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.wrappers.transitions import TransitionBuilder, WindowHistory

BOX4 = gym.spaces.Box(-np.inf, np.inf, (4,))
BOX2 = gym.spaces.Box(-1.0, 1.0, (2,))
MAZE_OBS = gym.spaces.Dict({"observation": BOX4, "achieved_goal": BOX2, "desired_goal": BOX2})


def _maze_batch(gen: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "observation": gen.normal(size=(n, 4)),
        **{k: gen.normal(size=(n, 2)) for k in ("achieved_goal", "desired_goal")},
    }


def test_builder_matches_the_dataset_path_for_dict_observations() -> None:
    layout = TransitionLayout(
        fields=(
            ("observation", 4),
            ("action", 2),
            ("reward", 1),
            ("next_observation", 4),
            ("desired_goal", 2),
            ("next_achieved_goal", 2),
        ),
        observation_key="observation",
    )
    builder = TransitionBuilder(layout, MAZE_OBS, BOX2)
    gen = np.random.default_rng(0)
    prev, nxt = _maze_batch(gen, 3), _maze_batch(gen, 3)
    actions, rewards = gen.normal(size=(3, 2)), gen.normal(size=3)
    got = builder.build(builder.extract(prev, 3), actions, builder.extract(nxt, 3), rewards)
    for i in range(3):
        episode = {k: np.stack([prev[k][i], nxt[k][i]]) for k in prev}
        want = episode_transitions(episode, actions[i : i + 1], rewards[i : i + 1], layout)
        np.testing.assert_array_equal(got[i : i + 1], want)


def test_builder_flat_observations_and_single_env_shapes() -> None:
    layout = TransitionLayout.from_sizes(observation=4, action=2, next_observation=4)
    builder = TransitionBuilder(layout, BOX4, BOX2)
    prev = builder.extract(np.arange(4.0), 1)
    nxt = builder.extract(np.arange(4.0) + 10, 1)
    x = builder.build(prev, np.array([0.5, -0.5]), nxt, np.zeros(1))
    np.testing.assert_array_equal(x, [[0, 1, 2, 3, 0.5, -0.5, 10, 11, 12, 13]])
    assert builder.field_at(5) == "action" and builder.field_at(9) == "next_observation"


def test_a_layout_of_another_size_names_both_shapes() -> None:
    layout = TransitionLayout.from_sizes(observation=11, action=3, observation_key="observation")
    with pytest.raises(IncompatibleModelsError, match=r"'observation' has shape \(11,\).*\(4,\)"):
        TransitionBuilder(layout, MAZE_OBS, BOX2)
    layout = TransitionLayout.from_sizes(observation=4, action=3)
    with pytest.raises(IncompatibleModelsError, match=r"'action' has shape \(3,\).*\(2,\)"):
        TransitionBuilder(layout, BOX4, BOX2)


def test_a_field_the_env_lacks_lists_the_valid_ones() -> None:
    layout = TransitionLayout.from_sizes(observation=4, velocity=2)
    with pytest.raises(IncompatibleModelsError, match=r"'velocity'.*valid field names.*desired"):
        TransitionBuilder(layout, MAZE_OBS, BOX2)


def test_non_box_spaces_are_refused() -> None:
    layout = TransitionLayout.from_sizes(observation=4, action=1)
    with pytest.raises(IncompatibleModelsError, match="Discrete"):
        TransitionBuilder(layout, BOX4, gym.spaces.Discrete(3))


def test_history_pads_with_the_first_transition_then_shifts() -> None:
    hist = WindowHistory(num_envs=2, window=3, dim=1)
    w = hist.push(np.array([[1.0], [10.0]]))
    np.testing.assert_array_equal(w[:, :, 0], [[1, 1, 1], [10, 10, 10]])
    w = hist.push(np.array([[2.0], [20.0]]))
    np.testing.assert_array_equal(w[:, :, 0], [[1, 1, 2], [10, 10, 20]])
    hist.reset(np.array([False, True]))
    w = hist.push(np.array([[3.0], [30.0]]))
    np.testing.assert_array_equal(w[:, :, 0], [[1, 2, 3], [30, 30, 30]])
    w = hist.push(np.array([[4.0], [99.0]]), rows=np.array([True, False]))
    np.testing.assert_array_equal(w[:, :, 0], [[2, 3, 4], [30, 30, 30]])
    hist.reset()
    w = hist.push(np.array([[5.0], [50.0]]))
    np.testing.assert_array_equal(w[:, :, 0], [[5, 5, 5], [50, 50, 50]])
