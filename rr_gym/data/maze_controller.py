"""A waypoint PD controller for PointMaze, in the style of D4RL's maze2d data generator.

On a new goal the controller plans a shortest path over maze cells (BFS tables from
:class:`~rr_gym.data.maze.MazeGeometry`, cached per goal cell), places one waypoint at the
centre of each cell on the path plus uniform noise of ``waypoint_noise`` cells in x and y,
and ends the path at the goal position itself. Each step it outputs
``clip(p_gain * (waypoint - pos) + d_gain * vel, -1, 1)`` and moves to the next waypoint
once within ``solve_threshold`` of the current one. If the point leaves the cells of its
previous and current waypoints (a collision knocked it off the path), it replans from
where it is. Straight lines between adjacent cells never cross a wall, so the path is
always feasible.

Everything per step is plain Python floats: the controller costs a few microseconds,
far less than the simulator step.

Example:
    >>> import numpy as np
    >>> from rr_gym.data.maze import MazeGeometry
    >>> ctrl = WaypointController(MazeGeometry.from_name("umaze"), rng=np.random.default_rng(0))
    >>> action = ctrl.act(np.array([-1.0, 1.0, 0.0, 0.0]), np.array([-1.0, -1.0]))
    >>> action.shape, bool(np.all(np.abs(action) <= 1.0))
    ((2,), True)
"""

from __future__ import annotations

import math

import numpy as np

from rr_gym.data.maze import Cell, MazeGeometry
from rr_gym.errors import ConfigError

__all__ = ["D_GAIN", "P_GAIN", "SOLVE_THRESHOLD", "WAYPOINT_NOISE", "WaypointController"]

#: Proportional gain on (waypoint - position).
P_GAIN = 3.0
#: Derivative gain on the velocity (negative: damping).
D_GAIN = -math.sqrt(0.3)
#: Waypoint noise: half-width of the uniform offset, in cells, added to each waypoint.
WAYPOINT_NOISE = 0.24
#: Distance (simulator units) at which a waypoint counts as reached (D4RL's value).
SOLVE_THRESHOLD = 0.1


class WaypointController:
    """Waypoint PD controller over a maze's cells.

    Args:
        geometry: the maze.
        rng: source of the waypoint noise (pass a seeded Generator for reproducibility).
        p_gain: proportional gain.
        d_gain: derivative gain (applied to the velocity).
        waypoint_noise: uniform waypoint offset half-width, in cells (scaled by
            ``geometry.scaling``); 0 follows cell centres exactly.
        solve_threshold: distance at which the current waypoint counts as reached.
        action_limit: actions are clipped to ``[-action_limit, action_limit]``.
    """

    def __init__(
        self,
        geometry: MazeGeometry,
        *,
        rng: np.random.Generator,
        p_gain: float = P_GAIN,
        d_gain: float = D_GAIN,
        waypoint_noise: float = WAYPOINT_NOISE,
        solve_threshold: float = SOLVE_THRESHOLD,
        action_limit: float = 1.0,
    ) -> None:
        if not 0.0 <= waypoint_noise < 0.5:
            raise ConfigError(
                f"waypoint_noise={waypoint_noise}; expected 0 <= noise < 0.5 cells so that "
                "waypoints stay inside their cells"
            )
        if solve_threshold <= 0 or action_limit <= 0:
            raise ConfigError(
                f"solve_threshold={solve_threshold} and action_limit={action_limit} "
                "must be positive"
            )
        self.geometry = geometry
        self.rng = rng
        self.p_gain = float(p_gain)
        self.d_gain = float(d_gain)
        self.waypoint_noise = float(waypoint_noise)
        self.solve_threshold = float(solve_threshold)
        self.action_limit = float(action_limit)
        self._goal: tuple[float, float] | None = None
        self._waypoints: list[tuple[float, float]] = []
        self._cells: list[Cell] = []
        self._index = 0
        self.replans = 0

    def reset(self) -> None:
        """Forget the current plan (call at every episode start)."""
        self._goal = None
        self._waypoints = []
        self._cells = []
        self._index = 0

    @property
    def waypoints(self) -> list[tuple[float, float]]:
        """The current plan's waypoints ``(x, y)``; the last one is the goal."""
        return list(self._waypoints)

    def _plan(self, x: float, y: float, goal: tuple[float, float]) -> None:
        geo = self.geometry
        start = geo.nearest_open_cell(x, y)
        goal_cell = geo.nearest_open_cell(*goal)
        cells = geo.path(start, goal_cell)[1:]
        noise = self.waypoint_noise * geo.scaling
        waypoints: list[tuple[float, float]] = []
        if cells:
            offsets = self.rng.uniform(-noise, noise, size=(len(cells), 2)) if noise else None
            for i, cell in enumerate(cells[:-1]):
                cx, cy = geo.cell_to_xy(cell)
                if offsets is not None:
                    cx, cy = cx + float(offsets[i, 0]), cy + float(offsets[i, 1])
                waypoints.append((cx, cy))
        waypoints.append(goal)
        self._cells = [start, *cells] if cells else [start, goal_cell]
        self._waypoints = waypoints
        self._goal = goal
        self._index = 0

    def act(self, observation: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """One action.

        Args:
            observation: ``(4,)`` array ``[x, y, vx, vy]``.
            goal: ``(2,)`` goal position ``[x, y]``; a changed goal triggers a new plan.

        Returns:
            ``(2,)`` float32 action in ``[-action_limit, action_limit]``.
        """
        x, y, vx, vy = (float(v) for v in observation[:4])
        gx, gy = float(goal[0]), float(goal[1])
        if self._goal is None or abs(gx - self._goal[0]) + abs(gy - self._goal[1]) > 1e-6:
            self._plan(x, y, (gx, gy))
        else:
            # Replan when knocked off the path: not in the previous or current waypoint's cell.
            cell = self.geometry.xy_to_cell(x, y)
            i = self._index
            if cell != self._cells[i] and cell != self._cells[i + 1]:
                self.replans += 1
                self._plan(x, y, (gx, gy))
        wx, wy = self._waypoints[self._index]
        dx, dy = wx - x, wy - y
        if (
            self._index < len(self._waypoints) - 1
            and dx * dx + dy * dy < self.solve_threshold * self.solve_threshold
        ):
            self._index += 1
            wx, wy = self._waypoints[self._index]
            dx, dy = wx - x, wy - y
        lim = self.action_limit
        ax = min(max(self.p_gain * dx + self.d_gain * vx, -lim), lim)
        ay = min(max(self.p_gain * dy + self.d_gain * vy, -lim), lim)
        return np.array([ax, ay], dtype=np.float32)
