"""Turning Minari episodes into transition matrices according to a TransitionLayout.

A layout names the blocks of one transition vector. Field names resolve against an
episode as follows (``T`` = number of transitions of the episode):

- ``"observation"``: observations ``0..T-1``; for dict observations the entry
  ``layout.observation_key`` (default ``"observation"``);
- ``"next_observation"``: observations ``1..T``;
- ``"action"``: the ``T`` actions (flattened per step);
- ``"reward"``: the ``T`` rewards as a field of size 1;
- any other key ``k`` of a dict observation: that entry at ``0..T-1``; ``"next_<k>"`` at
  ``1..T``.

Example:
    >>> import gymnasium as gym, numpy as np
    >>> space = gym.spaces.Dict({"observation": gym.spaces.Box(-1, 1, (4,)),
    ...                          "desired_goal": gym.spaces.Box(-1, 1, (2,))})
    >>> infer_layout(space, gym.spaces.Box(-1, 1, (2,)))
    TransitionLayout(fields=(('observation', 4), ('action', 2)), observation_key='observation')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout

__all__ = ["available_fields", "episode_transitions", "infer_layout"]

_DEFAULT_OBS_KEY = "observation"


def _box_size(space: gym.Space[Any], what: str) -> int:
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape)) if space.shape else 1
    raise ConfigError(
        f"{what} space {space} is not supported for transition windows; expected a Box "
        "(or a Dict of Boxes for observations); pass an explicit layout over Box fields"
    )


def infer_layout(
    observation_space: gym.Space[Any],
    action_space: gym.Space[Any],
    *,
    observation_key: str | None = None,
) -> TransitionLayout:
    """The default layout ``observation + action`` for a pair of spaces.

    Args:
        observation_space: a Box, or a Dict with an ``observation_key`` entry that is a Box
            (PointMaze: ``"observation"`` = ``[x, y, vx, vy]``).
        action_space: a Box.
        observation_key: for dict observations; default ``"observation"``.

    Raises:
        ConfigError: a space that is not a Box, or a Dict without the key (the message
            lists the keys it has).
    """
    if isinstance(observation_space, gym.spaces.Dict):
        key = observation_key or _DEFAULT_OBS_KEY
        if key not in observation_space.spaces:
            raise ConfigError(
                f"dict observation space has no entry {key!r}; its keys are "
                f"{sorted(observation_space.spaces)}; pass layout=TransitionLayout(..., "
                "observation_key=<one of them>)"
            )
        obs_size = _box_size(observation_space.spaces[key], f"observation[{key!r}]")
    else:
        key = None
        obs_size = _box_size(observation_space, "observation")
    act_size = _box_size(action_space, "action")
    return TransitionLayout(
        fields=(("observation", obs_size), ("action", act_size)), observation_key=key
    )


def available_fields(
    observation_space: gym.Space[Any], action_space: gym.Space[Any]
) -> dict[str, int]:
    """Field names a layout may use with data of these spaces, and their sizes.

    For dict observations the per-key names are listed, and ``"observation"`` stands for
    the default key ``"observation"`` when present.
    """
    fields: dict[str, int] = {}
    if isinstance(observation_space, gym.spaces.Dict):
        for key, sub in observation_space.spaces.items():
            if isinstance(sub, gym.spaces.Box):
                size = _box_size(sub, key)
                fields[key] = size
                fields[f"next_{key}"] = size
    elif isinstance(observation_space, gym.spaces.Box):
        size = _box_size(observation_space, "observation")
        fields["observation"] = size
        fields["next_observation"] = size
    if isinstance(action_space, gym.spaces.Box):
        fields["action"] = _box_size(action_space, "action")
    fields["reward"] = 1
    return fields


def _flat(x: np.ndarray, n: int) -> np.ndarray:
    return np.asarray(x).reshape(n, -1)


def _obs_entry(observations: Any, key: str | None, name: str, valid: list[str]) -> np.ndarray:
    if isinstance(observations, Mapping):
        use = key or _DEFAULT_OBS_KEY
        if use not in observations:
            raise DataError(
                f"layout field {name!r} needs observation entry {use!r}, but the episodes' "
                f"observations have keys {sorted(observations)}; valid field names: {valid}"
            )
        return np.asarray(observations[use])
    if key is not None and key != _DEFAULT_OBS_KEY:
        raise DataError(
            f"layout has observation_key={key!r} but the episodes' observations are a flat "
            f"array, not a dict; valid field names: {valid}"
        )
    return np.asarray(observations)


def _field_names(observations: Any) -> list[str]:
    names = ["action", "reward"]
    if isinstance(observations, Mapping):
        for key in sorted(observations):
            names += [key, f"next_{key}"]
    else:
        names += ["observation", "next_observation"]
    return sorted(set(names))


def episode_transitions(
    observations: Any,
    actions: np.ndarray,
    rewards: np.ndarray,
    layout: TransitionLayout,
) -> np.ndarray:
    """Stack one episode's fields into a transition matrix.

    Args:
        observations: ``(T + 1, ...)`` array, or a dict of such arrays.
        actions: ``(T, ...)`` array.
        rewards: ``(T,)`` array.
        layout: which fields, in which order (see the module docstring).

    Returns:
        ``(T, layout.dim)`` float32 array.

    Raises:
        DataError: a field the episode does not have, or of another size than the layout
            says; both messages list what the episode offers.
    """
    n = len(rewards)
    valid = _field_names(observations)
    blocks: list[np.ndarray] = []
    for name, size in layout.fields:
        if name == "action":
            block = _flat(actions, n)
        elif name == "reward":
            block = _flat(rewards, n)
        elif name in ("observation", "next_observation"):
            obs = _obs_entry(observations, layout.observation_key, name, valid)
            obs = _flat(obs, len(obs))
            block = obs[:n] if name == "observation" else obs[1 : n + 1]
        elif isinstance(observations, Mapping) and name in observations:
            obs = _flat(np.asarray(observations[name]), len(observations[name]))
            block = obs[:n]
        elif (
            isinstance(observations, Mapping)
            and name.startswith("next_")
            and name[5:] in observations
        ):
            obs = _flat(np.asarray(observations[name[5:]]), len(observations[name[5:]]))
            block = obs[1 : n + 1]
        else:
            raise DataError(f"layout field {name!r} is not in the data; valid field names: {valid}")
        if block.shape != (n, size):
            raise DataError(
                f"layout field {name!r} has size {size} but the data has "
                f"{block.shape[1] if block.ndim == 2 else block.shape} per step "
                f"(episode of {n} steps, block shape {block.shape})"
            )
        blocks.append(block)
    out = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    return np.ascontiguousarray(out, dtype=np.float32)
