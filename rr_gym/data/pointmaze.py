"""Generating PointMaze datasets offline with the waypoint controller (D4RL maze2d style).

Two kinds of data, both saved as Minari datasets with the env spec that produced them:

- **base** (``goal=None``): ``continuing_task=True, reset_target=True``: random start and
  random goal; whenever the goal is reached the env draws a new random goal and the
  controller replans. Episodes end by truncation (``max_episode_steps``).
- **expert for goal k**: ``continuing_task=False``: the goal is fixed at goal cell k
  (:data:`~rr_gym.data.maze.GOAL_CELLS`, plus the env's +-0.25 cell position noise); the env
  terminates the episode on arrival (within 0.45 of the goal) and the next episode starts
  from a random cell: the start is re-randomised on arrival. With ``on_arrival="stay"``
  the episode instead runs to its time limit with the goal fixed (``continuing_task=True``,
  the D4RL maze2d evaluation protocol): the controller reaches the goal and hovers there,
  so the goal states dominate the data.

The stored reward is the env's own (``reward_type="sparse"``: 1 within 0.45 of the goal,
else 0; or ``"dense"``: ``exp(-distance)``), recorded in the metadata. The Minari
``eval_env`` is the D4RL evaluation protocol (fixed goal, ``continuing_task=True``), for
which the D4RL reference scores (:data:`~rr_gym.data.reference.REFERENCE_SCORES`) hold.

Same seed, same dataset: the env is seeded once at the first reset and the controller's
waypoint noise comes from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from rr_gym._version import __version__
from rr_gym.data.ids import pointmaze_dataset_id
from rr_gym.data.maze import GOAL_CELLS, MazeGeometry, _register_robotics, maze_env_id
from rr_gym.data.maze_controller import (
    D_GAIN,
    P_GAIN,
    SOLVE_THRESHOLD,
    WAYPOINT_NOISE,
    WaypointController,
)
from rr_gym.data.reference import REFERENCE_SCORES
from rr_gym.data.storage import DatasetWriter, EpisodeArrays, WriteResult
from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout

__all__ = ["POINTMAZE_LAYOUT", "RewardType", "generate_pointmaze"]

logger = logging.getLogger(__name__)

RewardType = Literal["sparse", "dense"]
#: Layout of PointMaze transitions: ``[x, y, vx, vy, ax, ay]``.
POINTMAZE_LAYOUT = TransitionLayout(
    fields=(("observation", 4), ("action", 2)), observation_key="observation"
)
_OBS_KEYS = ("observation", "achieved_goal", "desired_goal")


class _EpisodeRecorder:
    """Preallocated per-episode arrays for the dict observations of PointMaze."""

    def __init__(self, capacity: int) -> None:
        self.obs = {k: np.empty((capacity + 1, 4 if k == "observation" else 2)) for k in _OBS_KEYS}
        self.actions = np.empty((capacity, 2), np.float32)
        self.rewards = np.empty(capacity, np.float64)
        self.terms = np.zeros(capacity, bool)
        self.truncs = np.zeros(capacity, bool)
        self.t = 0

    def start(self, obs: dict[str, np.ndarray]) -> None:
        self.t = 0
        for k in _OBS_KEYS:
            self.obs[k][0] = obs[k]

    def step(
        self,
        action: np.ndarray,
        obs: dict[str, np.ndarray],
        reward: float,
        terminated: bool,
        truncated: bool,
    ) -> None:
        t = self.t
        self.actions[t] = action
        self.rewards[t] = reward
        self.terms[t] = terminated
        self.truncs[t] = truncated
        for k in _OBS_KEYS:
            self.obs[k][t + 1] = obs[k]
        self.t = t + 1

    def episode(self, options: dict[str, Any] | None, seed: int | None) -> EpisodeArrays:
        t = self.t
        return EpisodeArrays(
            observations={k: self.obs[k][: t + 1].copy() for k in _OBS_KEYS},
            actions=self.actions[:t].copy(),
            rewards=self.rewards[:t].copy(),
            terminations=self.terms[:t].copy(),
            truncations=self.truncs[:t].copy(),
            options=options,
            seed=seed,
        )


def generate_pointmaze(
    maze: str,
    *,
    steps: int,
    seed: int,
    goal: int | tuple[int, int] | None = None,
    dataset_id: str | None = None,
    reward_type: RewardType = "sparse",
    max_episode_steps: int | None = None,
    p_gain: float = P_GAIN,
    d_gain: float = D_GAIN,
    waypoint_noise: float = WAYPOINT_NOISE,
    solve_threshold: float = SOLVE_THRESHOLD,
    on_arrival: Literal["restart", "stay"] = "restart",
    overwrite: bool = False,
    progress: bool = True,
) -> WriteResult:
    """Generate a PointMaze dataset and save it under the Minari root.

    Args:
        maze: ``"umaze"``, ``"medium"``, ``"large"`` or ``"open"``.
        steps: total transitions; the last episode is truncated to fit.
        seed: seeds the env (first reset) and the controller's waypoint noise.
        goal: None for base data; a goal index (0..7, 0..6 for umaze) into
            :data:`~rr_gym.data.maze.GOAL_CELLS` or an explicit open ``(row, col)`` cell
            for expert data.
        dataset_id: default ``rr_gym/pointmaze-<maze>-base-v0`` or ``...-goal<k>-v0``.
        reward_type: the env's reward, ``"sparse"`` (default, as D4RL maze2d) or ``"dense"``.
        max_episode_steps: episode time limit; default the env's (umaze 300, medium 600,
            large 800, open 300).
        p_gain: controller gain on ``waypoint - position``.
        d_gain: controller gain on velocity.
        waypoint_noise: uniform waypoint noise half-width, in cells.
        solve_threshold: distance at which a waypoint counts as reached.
        on_arrival: expert data only: ``"restart"`` (end the episode on arrival, the next
            one starts from a random cell) or ``"stay"`` (stay at the goal until the time
            limit).
        overwrite: replace an existing dataset of that id.
        progress: show a tqdm bar.

    Returns:
        :class:`~rr_gym.data.storage.WriteResult` (id, path, steps, episodes, mean return,
        seconds).

    Raises:
        ConfigError: unknown maze, goal index out of range, goal cell in a wall, bad
            ``steps``/``reward_type``.
    """
    env_id = maze_env_id(maze)
    if not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"steps={steps!r}; expected a positive int")
    if reward_type not in ("sparse", "dense"):
        raise ConfigError(f"reward_type={reward_type!r}; expected 'sparse' or 'dense'")
    if on_arrival not in ("restart", "stay"):
        raise ConfigError(f"on_arrival={on_arrival!r}; expected 'restart' or 'stay'")
    geometry = MazeGeometry.from_name(maze)
    goal_cell = None if goal is None else geometry.goal_cell(goal)
    goal_index = (
        None
        if goal_cell is None
        else (GOAL_CELLS[maze].index(goal_cell) if goal_cell in GOAL_CELLS[maze] else None)
    )
    if dataset_id is None:
        if goal_cell is not None and goal_index is None:
            raise ConfigError(
                f"goal cell {goal_cell} is not one of the numbered goals of "
                f"{maze!r}; pass dataset_id= to name the dataset"
            )
        dataset_id = pointmaze_dataset_id(maze, goal_index)
    _register_robotics()
    expert = goal_cell is not None
    kwargs: dict[str, Any] = {
        "reward_type": reward_type,
        "continuing_task": not expert or on_arrival == "stay",
        "reset_target": not expert,
    }
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = int(max_episode_steps)
    env = gym.make(env_id, **kwargs)
    spec = env.spec
    if spec is None or spec.max_episode_steps is None:
        raise ConfigError(f"{env_id} has no max_episode_steps; expected a TimeLimit")
    eval_spec = dataclasses.replace(
        spec, kwargs={**spec.kwargs, "continuing_task": True, "reset_target": False}
    )
    ref = REFERENCE_SCORES.get(maze)
    controller = WaypointController(
        geometry,
        rng=np.random.default_rng(seed),
        p_gain=p_gain,
        d_gain=d_gain,
        waypoint_noise=waypoint_noise,
        solve_threshold=solve_threshold,
    )
    metadata = {
        "generator": "pointmaze",
        "kind": "expert" if expert else "base",
        "maze": maze,
        "env_id": env_id,
        "env_kwargs": kwargs,
        "goal": goal_index,
        "goal_cell": None if goal_cell is None else list(goal_cell),
        "goal_cells": [list(c) for c in GOAL_CELLS[maze]],
        "on_arrival": on_arrival if expert else None,
        "controller": {
            "type": "waypoint_pd",
            "p_gain": float(p_gain),
            "d_gain": float(d_gain),
            "waypoint_noise": float(waypoint_noise),
            "solve_threshold": float(solve_threshold),
            "path_planner": "bfs_over_cells",
        },
        "seed": int(seed),
        "steps": int(steps),
        "reward_type": reward_type,
        "reward_source": f"env ({env_id}, reward_type={reward_type!r})",
        "reference_score": None if ref is None else ref._asdict(),
        "layout": POINTMAZE_LAYOUT.to_dict(),
        "rr_gym_version": __version__,
    }
    what = f"expert data for goal cell {goal_cell}" if expert else "base data (random goals)"
    description = (
        f"rr_gym PointMaze {maze} {what}; "
        f"waypoint PD controller (p={p_gain:g}, d={d_gain:.4g}, noise={waypoint_noise:g})"
    )
    capacity = int(spec.max_episode_steps)
    recorder = _EpisodeRecorder(capacity)
    options = None if goal_cell is None else {"goal_cell": np.array(goal_cell)}
    episode_options = None if goal_cell is None else {"goal_cell": list(goal_cell)}
    done_steps = 0
    with (
        DatasetWriter(
            dataset_id,
            env=spec,
            eval_env=eval_spec,
            observation_space=env.observation_space,
            action_space=env.action_space,
            metadata=metadata,
            ref_min_score=None if ref is None else ref.random,
            ref_max_score=None if ref is None else ref.expert,
            description=description,
            overwrite=overwrite,
        ) as writer,
        tqdm(
            total=steps, desc=dataset_id, unit="step", disable=not progress, mininterval=1.0
        ) as bar,
    ):
        first = True
        while done_steps < steps:
            obs, _ = env.reset(seed=int(seed) if first else None, options=options)
            controller.reset()
            recorder.start(obs)
            while True:
                action = controller.act(obs["observation"], obs["desired_goal"])
                obs, reward, terminated, truncated, _ = env.step(action)
                done_steps += 1
                truncated = bool(truncated) or done_steps >= steps
                recorder.step(action, obs, float(reward), bool(terminated), truncated)
                if terminated or truncated:
                    break
            writer.add(recorder.episode(episode_options, int(seed) if first else None))
            bar.update(recorder.t)
            first = False
    env.close()
    if controller.replans:
        logger.info(
            "%s: the controller replanned %d times after collisions", dataset_id, controller.replans
        )
    assert writer.result is not None  # set by a successful DatasetWriter exit
    return writer.result
