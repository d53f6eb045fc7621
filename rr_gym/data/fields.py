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

from collections.abc import Collection, Mapping
from typing import Any, Literal, NamedTuple

import gymnasium as gym
import numpy as np

from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout

__all__ = [
    "FieldSource",
    "available_fields",
    "episode_transitions",
    "field_source",
    "infer_layout",
]

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


class FieldSource(NamedTuple):
    """Where the values of one layout field come from, for one transition.

    Attributes:
        kind: ``"observation"`` (the observation before the step), ``"next_observation"``
            (after it), ``"action"`` or ``"reward"``.
        key: the entry of a dict observation; ``None`` for flat observations, actions and
            rewards.
    """

    kind: Literal["observation", "next_observation", "action", "reward"]
    key: str | None


def field_source(
    name: str, observation_key: str | None, observation_keys: Collection[str] | None
) -> FieldSource:
    """Resolve a layout field name against observations (see the module docstring).

    Shared by :func:`episode_transitions` (datasets) and the environment wrappers, so both
    read a layout the same way.

    Args:
        name: the layout field name.
        observation_key: the layout's ``observation_key``.
        observation_keys: the keys of dict observations; ``None`` for flat observations.

    Raises:
        DataError: a name the observations do not provide; the message lists the valid ones.
    """
    if name in ("action", "reward"):
        return FieldSource(name, None)  # type: ignore[arg-type]
    valid = _field_names(observation_keys)
    if name in ("observation", "next_observation"):
        if observation_keys is not None:
            use = observation_key or _DEFAULT_OBS_KEY
            if use not in observation_keys:
                raise DataError(
                    f"layout field {name!r} needs observation entry {use!r}, but the "
                    f"observations have keys {sorted(observation_keys)}; valid field names: "
                    f"{valid}"
                )
            return FieldSource(name, use)  # type: ignore[arg-type]
        if observation_key is not None and observation_key != _DEFAULT_OBS_KEY:
            raise DataError(
                f"layout has observation_key={observation_key!r} but the observations are a "
                f"flat array, not a dict; valid field names: {valid}"
            )
        return FieldSource(name, None)  # type: ignore[arg-type]
    if observation_keys is not None:
        if name in observation_keys:
            return FieldSource("observation", name)
        if name.startswith("next_") and name[5:] in observation_keys:
            return FieldSource("next_observation", name[5:])
    raise DataError(f"layout field {name!r} is not in the data; valid field names: {valid}")


def _field_names(observation_keys: Collection[str] | None) -> list[str]:
    names = ["action", "reward"]
    if observation_keys is not None:
        for key in sorted(observation_keys):
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
    keys = list(observations) if isinstance(observations, Mapping) else None
    blocks: list[np.ndarray] = []
    for name, size in layout.fields:
        source = field_source(name, layout.observation_key, keys)
        if source.kind == "action":
            block = _flat(actions, n)
        elif source.kind == "reward":
            block = _flat(rewards, n)
        else:
            obs = np.asarray(observations if source.key is None else observations[source.key])
            obs = _flat(obs, len(obs))
            block = obs[:n] if source.kind == "observation" else obs[1 : n + 1]
        if block.shape != (n, size):
            raise DataError(
                f"layout field {name!r} has size {size} but the data has "
                f"{block.shape[1] if block.ndim == 2 else block.shape} per step "
                f"(episode of {n} steps, block shape {block.shape})"
            )
        blocks.append(block)
    out = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
    return np.ascontiguousarray(out, dtype=np.float32)
