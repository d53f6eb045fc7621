"""The waypoint controller reaches goals in the real env and is deterministic for a seed."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest

from rr_gym.data.maze import GOAL_CELLS, MazeGeometry, maze_env_id
from rr_gym.data.maze_controller import D_GAIN, P_GAIN, WAYPOINT_NOISE, WaypointController
from rr_gym.errors import ConfigError


def test_documented_gains() -> None:
    assert P_GAIN == 3.0
    assert pytest.approx(-math.sqrt(0.3)) == D_GAIN
    assert WAYPOINT_NOISE == 0.24


def _run(maze: str, seed: int, episodes: int) -> tuple[list[int], list[np.ndarray]]:
    geo = MazeGeometry.from_name(maze)
    env = gym.make(maze_env_id(maze), continuing_task=False)
    ctrl = WaypointController(geo, rng=np.random.default_rng(seed))
    lengths, actions = [], []
    goal = np.array(GOAL_CELLS[maze][-1])
    obs, _ = env.reset(seed=seed, options={"goal_cell": goal})
    for _ in range(episodes):
        ctrl.reset()
        for t in range(1, 1000):
            action = ctrl.act(obs["observation"], obs["desired_goal"])
            assert action.dtype == np.float32 and np.all(np.abs(action) <= 1.0)
            actions.append(action)
            obs, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                assert terminated, "controller failed to reach the goal in time"
                lengths.append(t)
                break
        obs, _ = env.reset(options={"goal_cell": goal})
    env.close()
    return lengths, actions


@pytest.mark.parametrize("maze", ["umaze", "medium"])
def test_reaches_the_goal_from_random_starts(maze: str) -> None:
    lengths, _ = _run(maze, seed=1, episodes=6)
    assert len(lengths) == 6


def test_same_seed_same_actions() -> None:
    _, a = _run("umaze", seed=3, episodes=2)
    _, b = _run("umaze", seed=3, episodes=2)
    np.testing.assert_array_equal(np.array(a), np.array(b))


def test_waypoints_follow_the_cell_path() -> None:
    geo = MazeGeometry.from_name("umaze")
    ctrl = WaypointController(geo, rng=np.random.default_rng(0), waypoint_noise=0.0)
    start_xy = geo.cell_to_xy((1, 1))
    goal_xy = geo.cell_to_xy((3, 1))
    ctrl.act(np.array([*start_xy, 0.0, 0.0]), np.array(goal_xy))
    expected = [geo.cell_to_xy(c) for c in geo.path((1, 1), (3, 1))[1:]]
    np.testing.assert_allclose(ctrl.waypoints, expected)


def test_bad_parameters() -> None:
    geo = MazeGeometry.from_name("umaze")
    with pytest.raises(ConfigError, match=r"waypoint_noise=0\.6"):
        WaypointController(geo, rng=np.random.default_rng(0), waypoint_noise=0.6)
    with pytest.raises(ConfigError, match="solve_threshold"):
        WaypointController(geo, rng=np.random.default_rng(0), solve_threshold=0.0)
