"""PointMaze geometry: maze maps, open cells, goal cells and shortest paths between cells.

Cells are ``(row, col)`` pairs indexing ``maze_map`` (row 0 at the top, as in
gymnasium-robotics); a cell whose entry is ``1`` is a wall, anything else is open. Positions
are the simulator's ``(x, y)``: :meth:`MazeGeometry.cell_to_xy` matches
``env.unwrapped.maze.cell_rowcol_to_xy``.

The 8 goal cells per maze (:data:`GOAL_CELLS`, numbered 0..7) are open cells spread over
the maze: its corners and dead ends first, then cells in between. The U-maze has only 7 open
cells, so it has 7 goals, numbered 0..6 (every open cell).

Example:
    >>> geo = MazeGeometry.from_name("umaze")
    >>> len(geo.open_cells), geo.goal_cell(1)
    (7, (1, 2))
    >>> geo.path((1, 1), (3, 1))
    [(1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1)]
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from rr_gym.errors import ConfigError

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = [
    "GOAL_CELLS",
    "MAZE_ENV_IDS",
    "MAZE_NAMES",
    "Cell",
    "MazeGeometry",
    "make_goal_env",
    "maze_env_id",
]

Cell = tuple[int, int]

#: Maze name -> gymnasium-robotics environment id.
MAZE_ENV_IDS: dict[str, str] = {
    "umaze": "PointMaze_UMaze-v3",
    "medium": "PointMaze_Medium-v3",
    "large": "PointMaze_Large-v3",
    "open": "PointMaze_Open-v3",
}
MAZE_NAMES: tuple[str, ...] = tuple(MAZE_ENV_IDS)

#: Goal cells ``(row, col)`` per maze, numbered by position in the tuple (goal k = entry k).
#: Open cells spread over the maze; the U-maze has only 7 open cells, all of them goals.
GOAL_CELLS: dict[str, tuple[Cell, ...]] = {
    # U-maze (5x5): the U's cells from the top-left arm round to the bottom-left arm.
    "umaze": ((1, 1), (1, 2), (1, 3), (2, 3), (3, 3), (3, 2), (3, 1)),
    # Medium (8x8): the four corner rooms, two dead ends and two central cells.
    "medium": ((1, 1), (1, 6), (2, 4), (3, 3), (4, 1), (4, 6), (6, 3), (6, 6)),
    # Large (9x12): the four corners, the top middle, and three cells in between.
    "large": ((1, 1), (1, 6), (1, 10), (3, 4), (5, 8), (7, 1), (7, 5), (7, 10)),
    # Open (5x7, 3x5 open cells): the four corners, top and bottom middle, two inner cells.
    "open": ((1, 1), (1, 3), (1, 5), (2, 2), (2, 4), (3, 1), (3, 3), (3, 5)),
}


def maze_env_id(maze: str) -> str:
    """The gymnasium-robotics id of ``maze`` (one of :data:`MAZE_NAMES`).

    Raises:
        ConfigError: ``maze`` is not a known maze name.
    """
    try:
        return MAZE_ENV_IDS[maze]
    except KeyError:
        raise ConfigError(f"unknown maze {maze!r}; expected one of {list(MAZE_NAMES)}") from None


def make_goal_env(maze: str, goal: int | Sequence[int], **kwargs: Any) -> gym.Env[Any, Any]:
    """The PointMaze of ``maze`` whose only goal is goal ``goal``, at every reset.

    The goal cell is marked ``"g"`` in the maze map, so autoresets (vector envs) keep it;
    with the env's defaults (``continuing_task=True``, ``reset_target=False``) this is the
    D4RL maze2d evaluation protocol for which :data:`~rr_gym.data.reference.REFERENCE_SCORES`
    hold. The start is a random open cell and the goal position gets the env's +-0.25
    cell noise.

    Args:
        maze: one of :data:`MAZE_NAMES`.
        goal: a goal index into :data:`GOAL_CELLS` or an open ``(row, col)`` cell.
        **kwargs: more ``gym.make`` keyword arguments (``reward_type``, ``max_episode_steps``).

    Raises:
        ConfigError: unknown maze, goal out of range or in a wall.

    Example:
        >>> env = make_goal_env("umaze", 6)
        >>> obs, _ = env.reset(seed=0)
        >>> MazeGeometry.from_name("umaze").xy_to_cell(*obs["desired_goal"])
        (3, 1)
    """
    import gymnasium as gym

    _register_robotics()
    cell = MazeGeometry.from_name(maze).goal_cell(goal)
    spec = gym.spec(maze_env_id(maze))
    maze_map = [[0 if v in ("g", "c") else v for v in row] for row in spec.kwargs["maze_map"]]
    maze_map[cell[0]][cell[1]] = "g"
    return gym.make(spec.id, maze_map=maze_map, **kwargs)


_NEIGHBOURS: tuple[Cell, ...] = ((-1, 0), (0, 1), (1, 0), (0, -1))


@dataclass(frozen=True)
class MazeGeometry:
    """A maze map with cell/position conversions and BFS shortest paths.

    Args:
        name: maze name (a key of :data:`MAZE_ENV_IDS`, or any label for a custom map).
        maze_map: rows of the map; ``1`` is a wall, anything else (0, "g", "r", "c") open.
        scaling: side length of one cell in simulator units (``maze_size_scaling``).
    """

    name: str
    maze_map: tuple[tuple[int | str, ...], ...]
    scaling: float = 1.0
    _next_cache: dict[Cell, dict[Cell, Cell]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        rows = tuple(tuple(row) for row in self.maze_map)
        if not rows or any(len(row) != len(rows[0]) for row in rows):
            raise ConfigError(f"maze {self.name!r}: maze_map must be a non-empty rectangle")
        object.__setattr__(self, "maze_map", rows)
        if not self.open_cells:
            raise ConfigError(f"maze {self.name!r} has no open cell")

    @classmethod
    def from_name(cls, maze: str) -> MazeGeometry:
        """Geometry of a registered PointMaze (reads the map from the env's registered spec)."""
        import gymnasium as gym

        env_id = maze_env_id(maze)
        _register_robotics()
        spec = gym.spec(env_id)
        return cls(name=maze, maze_map=spec.kwargs["maze_map"], scaling=1.0)

    @property
    def n_rows(self) -> int:
        """Number of rows of the map."""
        return len(self.maze_map)

    @property
    def n_cols(self) -> int:
        """Number of columns of the map."""
        return len(self.maze_map[0])

    @cached_property
    def open_cells(self) -> tuple[Cell, ...]:
        """Every open cell, row-major."""
        return tuple(
            (r, c)
            for r in range(self.n_rows)
            for c in range(self.n_cols)
            if self.maze_map[r][c] != 1
        )

    @cached_property
    def _open_set(self) -> frozenset[Cell]:
        return frozenset(self.open_cells)

    @property
    def goal_cells(self) -> tuple[Cell, ...]:
        """The numbered goal cells of this maze (:data:`GOAL_CELLS`)."""
        try:
            return GOAL_CELLS[self.name]
        except KeyError:
            raise ConfigError(
                f"maze {self.name!r} has no numbered goal cells; mazes with goal cells: "
                f"{list(GOAL_CELLS)}"
            ) from None

    def is_open(self, cell: Sequence[int]) -> bool:
        """Whether ``cell`` is inside the map and not a wall."""
        return (int(cell[0]), int(cell[1])) in self._open_set

    def check_cell(self, cell: Sequence[int], what: str = "cell") -> Cell:
        """Return ``cell`` as a tuple, or raise if it is outside the map or a wall.

        Raises:
            ConfigError: naming the cell and listing the open cells.
        """
        if len(cell) != 2:
            raise ConfigError(f"{what} {tuple(cell)!r} is not a (row, col) pair")
        rc = (int(cell[0]), int(cell[1]))
        if not (0 <= rc[0] < self.n_rows and 0 <= rc[1] < self.n_cols):
            raise ConfigError(
                f"{what} {rc} is outside the {self.n_rows}x{self.n_cols} maze {self.name!r}; "
                f"open cells: {list(self.open_cells)}"
            )
        if rc not in self._open_set:
            raise ConfigError(
                f"{what} {rc} is inside a wall of maze {self.name!r}; "
                f"open cells: {list(self.open_cells)}"
            )
        return rc

    def goal_cell(self, goal: int | Sequence[int]) -> Cell:
        """Resolve a goal index (0..n-1 into :attr:`goal_cells`) or an explicit open cell.

        Raises:
            ConfigError: an index out of range (lists the valid ones) or a wall/outside cell.
        """
        if isinstance(goal, int | str):
            try:
                index = int(goal)
            except ValueError:
                raise ConfigError(
                    f"goal {goal!r} is not an int index or a (row, col) cell"
                ) from None
            cells = self.goal_cells
            if not 0 <= index < len(cells):
                raise ConfigError(
                    f"goal {index} does not exist in maze {self.name!r}; valid goals are "
                    f"0..{len(cells) - 1}: " + ", ".join(f"{i}={c}" for i, c in enumerate(cells))
                )
            return cells[index]
        return self.check_cell(goal, "goal cell")

    def cell_to_xy(self, cell: Sequence[int]) -> tuple[float, float]:
        """Centre ``(x, y)`` of ``cell`` in simulator coordinates."""
        x = (cell[1] + 0.5) * self.scaling - self.n_cols * self.scaling / 2
        y = self.n_rows * self.scaling / 2 - (cell[0] + 0.5) * self.scaling
        return (x, y)

    def xy_to_cell(self, x: float, y: float) -> Cell:
        """The cell containing position ``(x, y)`` (may be a wall or outside the map)."""
        row = math.floor((self.n_rows * self.scaling / 2 - y) / self.scaling)
        col = math.floor((x + self.n_cols * self.scaling / 2) / self.scaling)
        return (row, col)

    def nearest_open_cell(self, x: float, y: float) -> Cell:
        """The open cell whose centre is nearest to ``(x, y)``."""
        cell = self.xy_to_cell(x, y)
        if cell in self._open_set:
            return cell
        return min(
            self.open_cells,
            key=lambda c: (self.cell_to_xy(c)[0] - x) ** 2 + (self.cell_to_xy(c)[1] - y) ** 2,
        )

    def next_cell_table(self, goal: Cell) -> dict[Cell, Cell]:
        """For every open cell connected to ``goal``, the next cell on a shortest path to it.

        Computed once per goal by BFS from the goal (4-connected moves) and cached. Ties
        are broken in the fixed order up, right, down, left, so paths are deterministic.
        The goal maps to itself.
        """
        goal = self.check_cell(goal, "goal cell")
        table = self._next_cache.get(goal)
        if table is not None:
            return table
        table = {goal: goal}
        queue: deque[Cell] = deque([goal])
        while queue:
            cell = queue.popleft()
            for dr, dc in _NEIGHBOURS:
                nb = (cell[0] + dr, cell[1] + dc)
                if nb in self._open_set and nb not in table:
                    table[nb] = cell
                    queue.append(nb)
        self._next_cache[goal] = table
        return table

    def path(self, start: Cell, goal: Cell) -> list[Cell]:
        """Shortest path of cells from ``start`` to ``goal``, both included.

        Raises:
            ConfigError: a wall cell, or no path between the two cells.
        """
        start = self.check_cell(start, "start cell")
        table = self.next_cell_table(goal)
        if start not in table:
            raise ConfigError(f"no path from {start} to {goal} in maze {self.name!r}")
        cells = [start]
        while cells[-1] != goal:
            cells.append(table[cells[-1]])
        return cells


def _register_robotics() -> None:
    """Register gymnasium-robotics envs with gymnasium (idempotent)."""
    import gymnasium as gym
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)
