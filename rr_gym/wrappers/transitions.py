"""Transition vectors of a reward model's layout, built from live environment steps.

A layout (see :class:`~rr_gym.layout.TransitionLayout`) names the blocks of one transition.
The wrappers read it exactly as datasets do (:func:`rr_gym.data.fields.field_source`):
``"observation"`` is the observation before the step, ``"next_observation"`` the one after
it, ``"action"`` the action, ``"reward"`` the environment's reward; for dict observations
(PointMaze) ``layout.observation_key`` names the entry that fills ``"observation"`` and any
other entry ``k`` may be used as ``k`` (before the step) or ``next_k`` (after it).

:class:`TransitionBuilder` checks a layout against an environment's spaces once, then fills
a preallocated ``(N, D)`` buffer per step. :class:`WindowHistory` keeps, per environment,
the last ``window`` transitions that windowed rewards score.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from rr_gym.data.fields import FieldSource, field_source
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout

__all__ = ["ObsParts", "TransitionBuilder", "WindowHistory"]

ObsParts = dict[str | None, np.ndarray]
"""The observation entries a layout reads, each ``(N, size)`` float32 (key ``None``: flat)."""


def _space_size(space: gym.Space[Any]) -> int | None:
    """Flat size of a Box space; ``None`` for any other space."""
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape)) if space.shape else 1
    return None


class TransitionBuilder:
    """Builds ``(N, layout.dim)`` transitions from batched observations, actions and rewards.

    Args:
        layout: the reward model's transition layout.
        observation_space: one environment's observation space (Box, or Dict of Boxes).
        action_space: one environment's action space (a Box when the layout reads actions).

    Raises:
        IncompatibleModelsError: a layout field the spaces do not provide, or whose size
            differs from the space's; the message names both shapes.

    Example:
        >>> space = gym.spaces.Box(-1, 1, (3,))
        >>> layout = TransitionLayout.from_sizes(observation=3, action=1, next_observation=3)
        >>> builder = TransitionBuilder(layout, space, gym.spaces.Box(-1, 1, (1,)))
        >>> prev = builder.extract(np.zeros((2, 3)), 2)
        >>> nxt = builder.extract(np.ones((2, 3)), 2)
        >>> builder.build(prev, np.full((2, 1), 0.5), nxt, np.zeros(2))[0]
        array([0. , 0. , 0. , 0.5, 1. , 1. , 1. ], dtype=float32)
    """

    def __init__(
        self,
        layout: TransitionLayout,
        observation_space: gym.Space[Any],
        action_space: gym.Space[Any],
    ) -> None:
        self.layout = layout
        self.observation_space = observation_space
        self.action_space = action_space
        is_dict = isinstance(observation_space, gym.spaces.Dict)
        keys = list(observation_space.spaces) if is_dict else None
        self._dict_obs = is_dict
        ops: list[tuple[slice, FieldSource]] = []
        obs_sizes: dict[str | None, int] = {}
        for name, size in layout.fields:
            try:
                source = field_source(name, layout.observation_key, keys)
            except DataError as exc:
                raise IncompatibleModelsError(
                    f"the reward model's layout {layout} does not fit the env's observation "
                    f"space {observation_space}: {exc}"
                ) from exc
            if source.kind == "action":
                space, what = action_space, "action space"
            elif source.kind == "reward":
                space, what = gym.spaces.Box(-np.inf, np.inf, (1,)), "reward"
            elif source.key is None:
                space, what = observation_space, "observation space"
            else:
                space, what = observation_space[source.key], f"observation[{source.key!r}] space"
            have = _space_size(space)
            if have is None:
                raise IncompatibleModelsError(
                    f"layout field {name!r} reads the env's {what} {space}, which is not a Box; "
                    "rr_gym rewards read Box spaces (or Dicts of Boxes) only"
                )
            if have != size:
                raise IncompatibleModelsError(
                    f"the reward model's layout field {name!r} has shape ({size},) but the "
                    f"env's {what} has shape {space.shape} ({have} values); layout {layout}, "
                    f"env observation space {observation_space}, action space {action_space}"
                )
            ops.append((layout.slice(name), source))
            if source.kind in ("observation", "next_observation"):
                obs_sizes[source.key] = size
        self._ops = tuple(ops)
        self.obs_sizes = obs_sizes
        self._action_size = _space_size(action_space) or 0

    @property
    def dim(self) -> int:
        """Size ``D`` of one transition."""
        return self.layout.dim

    def extract(self, obs: Any, n: int) -> ObsParts:
        """The entries of batched observations ``obs`` (``(n, ...)`` or a dict of them)
        that the layout reads, each as a new ``(n, size)`` float32 array."""
        out: ObsParts = {}
        for key in self.obs_sizes:
            value = obs if key is None else obs[key]
            out[key] = np.array(value, dtype=np.float32).reshape(n, -1)
        return out

    def extract_one(self, obs: Any) -> ObsParts:
        """Like :meth:`extract` for the observation of one environment, ``(1, size)`` each."""
        if self._dict_obs and not isinstance(obs, Mapping):
            raise DataError(f"expected a dict observation, got {type(obs).__name__}")
        return self.extract(obs, 1)

    def build(
        self,
        prev: ObsParts,
        action: np.ndarray,
        nxt: ObsParts,
        reward: np.ndarray,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Fill ``out`` ``(n, D)`` (allocated if ``None``) with the transitions.

        Args:
            prev: observation entries before the step (from :meth:`extract`).
            action: actions ``(n, A)`` (any shape with ``n`` rows).
            nxt: observation entries after the step.
            reward: environment rewards ``(n,)``.
            out: float32 buffer ``(n, D)``.

        Returns:
            ``out``.
        """
        n = len(reward)
        if out is None:
            out = np.empty((n, self.dim), dtype=np.float32)
        for sl, (kind, key) in self._ops:
            if kind == "observation":
                out[:, sl] = prev[key]
            elif kind == "next_observation":
                out[:, sl] = nxt[key]
            elif kind == "action":
                out[:, sl] = np.reshape(action, (n, self._action_size))
            else:
                out[:, sl.start] = reward
        return out

    def field_at(self, column: int) -> str:
        """Name of the layout field that holds ``column`` of a transition."""
        for name, _ in self.layout.fields:
            sl = self.layout.slice(name)
            if sl.start <= column < sl.stop:
                return name
        raise ConfigError(f"column {column} is outside a transition of size {self.dim}")


class WindowHistory:
    """Per-environment ring of the last ``window`` transitions, ``(N, window, D)``.

    After a reset an environment's window is empty; its first transition fills every slot
    (the window is padded by repeating the episode's first transition), so a windowed
    reward scores full windows from the first step on. Later transitions shift in at the
    end: ``windows[i, -1]`` is always environment ``i``'s latest transition.

    Args:
        num_envs: number of environments ``N``.
        window: transitions per window.
        dim: transition size ``D``.
    """

    def __init__(self, num_envs: int, window: int, dim: int) -> None:
        self.window = window
        self.windows = np.zeros((num_envs, window, dim), dtype=np.float32)
        self.filled = np.zeros(num_envs, dtype=bool)

    def reset(self, rows: np.ndarray | None = None) -> None:
        """Empty the windows of all environments, or of the boolean ``rows`` ``(N,)``."""
        if rows is None:
            self.filled[:] = False
        else:
            self.filled[rows] = False

    def push(self, x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Append transitions ``x`` ``(N, D)`` (only boolean ``rows`` if given).

        Returns:
            the windows ``(N, window, D)`` (a view; rows not pushed are stale).
        """
        w = self.windows
        if self.window == 1:
            if rows is None:
                w[:, 0] = x
            else:
                w[rows, 0] = x[rows]
        elif rows is None and self.filled.all():
            w[:, :-1] = w[:, 1:]
            w[:, -1] = x
        else:
            push = np.ones(len(x), dtype=bool) if rows is None else rows
            fresh = push & ~self.filled
            old = push & self.filled
            if old.any():
                w[old, :-1] = w[old, 1:]
                w[old, -1] = x[old]
            if fresh.any():
                w[fresh] = x[fresh, None, :]
        if rows is None:
            self.filled[:] = True
        else:
            self.filled[rows] = True
        return w
