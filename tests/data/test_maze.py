"""Maze geometry: goal cells, coordinates, BFS paths, bad input."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest

from rr_gym.data.maze import GOAL_CELLS, MAZE_NAMES, MazeGeometry, maze_env_id
from rr_gym.errors import ConfigError


@pytest.mark.parametrize("maze", MAZE_NAMES)
def test_goal_cells_are_open_distinct_and_connected(maze: str) -> None:
    geo = MazeGeometry.from_name(maze)
    goals = GOAL_CELLS[maze]
    assert len(goals) == (7 if maze == "umaze" else 8)
    assert len(set(goals)) == len(goals)
    for cell in goals:
        assert geo.is_open(cell)
    table = geo.next_cell_table(goals[0])
    assert set(table) == set(geo.open_cells)  # every open cell reaches goal 0


def test_umaze_uses_every_open_cell() -> None:
    geo = MazeGeometry.from_name("umaze")
    assert sorted(GOAL_CELLS["umaze"]) == sorted(geo.open_cells)


@pytest.mark.parametrize("maze", ["umaze", "large"])
def test_cell_coordinates_match_the_env(maze: str) -> None:
    geo = MazeGeometry.from_name(maze)
    env = gym.make(maze_env_id(maze))
    helper = env.unwrapped.maze  # type: ignore[attr-defined]
    for cell in geo.open_cells:
        x, y = geo.cell_to_xy(cell)
        np.testing.assert_allclose(helper.cell_rowcol_to_xy(np.array(cell)), [x, y])
        assert geo.xy_to_cell(x + 0.3, y - 0.3) == cell
        assert tuple(helper.cell_xy_to_rowcol(np.array([x, y]))) == cell
    env.close()


def test_paths_are_shortest_and_adjacent() -> None:
    geo = MazeGeometry.from_name("medium")
    for start in geo.open_cells:
        path = geo.path(start, (6, 6))
        assert path[0] == start and path[-1] == (6, 6)
        for a, b in itertools.pairwise(path):
            assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1
            assert geo.is_open(b)
    assert len(geo.path((1, 1), (1, 1))) == 1


def test_unknown_maze_names_choices() -> None:
    with pytest.raises(ConfigError, match=r"'spiral'.*umaze.*medium.*large.*open"):
        MazeGeometry.from_name("spiral")


def test_goal_index_out_of_range_lists_valid_goals() -> None:
    geo = MazeGeometry.from_name("umaze")
    with pytest.raises(ConfigError, match=r"goal 7 does not exist.*0\.\.6"):
        geo.goal_cell(7)
    with pytest.raises(ConfigError, match="goal -1"):
        geo.goal_cell(-1)


def test_goal_cell_inside_a_wall() -> None:
    geo = MazeGeometry.from_name("umaze")
    with pytest.raises(ConfigError, match=r"\(2, 2\) is inside a wall.*open cells"):
        geo.goal_cell((2, 2))
    with pytest.raises(ConfigError, match="outside"):
        geo.goal_cell((9, 9))
    assert geo.goal_cell((3, 3)) == (3, 3)


def test_custom_map_without_goal_table() -> None:
    geo = MazeGeometry("tiny", ((1, 1, 1), (1, 0, 1), (1, 1, 1)))
    assert geo.open_cells == ((1, 1),)
    with pytest.raises(ConfigError, match="no numbered goal cells"):
        geo.goal_cell(0)
    with pytest.raises(ConfigError, match="no open cell"):
        MazeGeometry("walls", ((1, 1), (1, 1)))
