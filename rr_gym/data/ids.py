"""Dataset ids of rr_gym's generated datasets, and the command that builds each one.

Ids (namespace ``rr_gym``, version 0):

- PointMaze base data: ``rr_gym/pointmaze-<maze>-base-v0``;
- PointMaze expert data for goal k: ``rr_gym/pointmaze-<maze>-goal<k>-v0``;
- locomotion: ``rr_gym/<env>-<level>-v0`` with env in hopper/halfcheetah/walker2d and level
  in random/medium/medium-replay/expert (Minari's ``mujoco/<env>/<level>-v0`` mirrored).

Example:
    >>> pointmaze_dataset_id("umaze", goal=1)
    'rr_gym/pointmaze-umaze-goal1-v0'
    >>> locomotion_dataset_id("hopper", "medium-replay")
    'rr_gym/hopper-medium-replay-v0'
    >>> substitute_command("D4RL/pointmaze/umaze-v2")
    'python -m rr_gym.data generate pointmaze --maze umaze --base'
"""

from __future__ import annotations

import re

from rr_gym.errors import ConfigError

__all__ = [
    "LOCOMOTION_LEVELS",
    "NAMESPACE",
    "locomotion_dataset_id",
    "pointmaze_dataset_id",
    "substitute_command",
]

NAMESPACE = "rr_gym"
#: Dataset qualities, as Minari's ``mujoco/<env>/<level>-v0``.
LOCOMOTION_LEVELS: tuple[str, ...] = ("random", "medium", "medium-replay", "expert")

_CLI = "python -m rr_gym.data generate"
_MAZES = ("umaze", "medium", "large", "open")
_ENVS = ("hopper", "halfcheetah", "walker2d")


def pointmaze_dataset_id(maze: str, goal: int | None = None, version: int = 0) -> str:
    """Id of a PointMaze dataset: base data when ``goal`` is None, else expert data."""
    kind = "base" if goal is None else f"goal{int(goal)}"
    return f"{NAMESPACE}/pointmaze-{maze}-{kind}-v{version}"


def locomotion_dataset_id(env: str, level: str, version: int = 0) -> str:
    """Id of a locomotion dataset, e.g. ``rr_gym/hopper-expert-v0``.

    Raises:
        ConfigError: unknown level (lists :data:`LOCOMOTION_LEVELS`).
    """
    if level not in LOCOMOTION_LEVELS:
        raise ConfigError(f"unknown level {level!r}; expected one of {list(LOCOMOTION_LEVELS)}")
    return f"{NAMESPACE}/{env}-{level}-v{version}"


def substitute_command(dataset_id: str) -> str:
    """The rr_gym command that generates ``dataset_id`` or a local substitute for it.

    Knows rr_gym's own ids, Minari's ``D4RL/pointmaze/<maze>(-dense)-vN`` and
    ``mujoco/<env>/<level>-vN``; for anything else it lists both generators.
    """
    maze_pat = "|".join(_MAZES)
    env_pat = "|".join(_ENVS)
    level_pat = "|".join(re.escape(level) for level in LOCOMOTION_LEVELS)
    m = re.fullmatch(rf"{NAMESPACE}/pointmaze-({maze_pat})-(base|goal(\d+))-v\d+", dataset_id)
    if m:
        goal = "--base" if m.group(2) == "base" else f"--goal {m.group(3)}"
        return f"{_CLI} pointmaze --maze {m.group(1)} {goal}"
    m = re.fullmatch(rf"D4RL/pointmaze/({maze_pat})(-dense)?-v\d+", dataset_id)
    if m:
        dense = " --reward dense" if m.group(2) else ""
        return f"{_CLI} pointmaze --maze {m.group(1)} --base{dense}"
    m = re.fullmatch(
        rf"(?:{NAMESPACE}/({env_pat})-|mujoco/({env_pat})/)({level_pat})-v\d+", dataset_id
    )
    if m:
        env = m.group(1) or m.group(2)
        return f"{_CLI} locomotion --env {env} --levels {m.group(3)}"
    return (
        f"`{_CLI} pointmaze --maze <umaze|medium|large|open> (--base | --goal K)` or "
        f"`{_CLI} locomotion --env <hopper|halfcheetah|walker2d> "
        "--levels random,medium,medium-replay,expert`"
    )
