"""Data inputs of the baselines: transitions and windows from arrays, WindowDatasets or Minari,
and the checks that expert data, base data and a generator env fit together.

Every baseline reads raw transitions laid out by a :class:`~rr_gym.layout.TransitionLayout`.
Offline baselines take windows ``(N, H, D)`` (``H = 1``: single transitions); the adversarial
baselines take single transitions ``(N, D)`` with the fields ``observation`` and ``action``
(AIRL also ``next_observation``) plus per-transition termination flags.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from rr_gym.data.fields import infer_layout
from rr_gym.data.loading import load_dataset
from rr_gym.data.windows import as_windows, dataset_info, episode_rows, make_windows
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.utils.validation import check_finite

__all__ = [
    "Transitions",
    "check_batch",
    "check_env_spaces",
    "check_same_data_kind",
    "data_facts",
    "data_horizon",
    "env_layout",
    "load_transitions",
    "load_windows",
    "transition_rows",
]

logger = logging.getLogger(__name__)


def _is_minari(source: Any) -> bool:
    return isinstance(source, str | os.PathLike) or hasattr(source, "iterate_episodes")


@dataclass(frozen=True, eq=False)
class Transitions:
    """Raw single transitions with their layout and termination flags.

    Attributes:
        data: ``(N, D)`` float32, ``D = layout.dim``.
        layout: names the blocks of ``D``.
        dones: ``(N,)`` bool, True where the episode terminated (not truncated) after the
            transition; all False when the source does not record terminations.
        metadata: JSON-friendly facts (``observation_space``, ``action_space``, ``env_id``
            when known).
    """

    data: np.ndarray
    layout: TransitionLayout
    dones: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        data = np.asarray(self.data, np.float32)
        if data.ndim != 2 or data.shape[1] != self.layout.dim:
            raise DataError(
                f"transitions have shape {data.shape}; expected (N, {self.layout.dim}) for "
                f"layout {self.layout}"
            )
        dones = np.asarray(self.dones, bool).reshape(-1)
        if dones.shape != (len(data),):
            raise DataError(f"dones have shape {dones.shape}; expected ({len(data)},)")
        check_finite(data, "transitions")
        object.__setattr__(self, "data", np.ascontiguousarray(data))
        object.__setattr__(self, "dones", dones)

    def __len__(self) -> int:
        return int(self.data.shape[0])

    def field(self, name: str) -> np.ndarray:
        """The ``(N, size)`` block of one layout field."""
        return self.data[:, self.layout.slice(name)]


def data_facts(data: Transitions) -> dict[str, Any]:
    """The facts about ``data`` worth recording with a model (dataset and env ids)."""
    return {k: data.metadata[k] for k in ("dataset_id", "env_id") if data.metadata.get(k)}


def env_layout(
    observation_space: gym.Space[Any], action_space: gym.Space[Any], *, next_observation: bool
) -> TransitionLayout:
    """``observation + action [+ next_observation]`` for Box spaces (the adversarial default)."""
    base = infer_layout(observation_space, action_space)
    if base.observation_key is not None:
        raise ConfigError(
            f"observation space {observation_space} is a Dict; the adversarial baselines "
            "need a Box observation space (flatten the env first)"
        )
    if not next_observation:
        return base
    return TransitionLayout(
        fields=(*base.fields, ("next_observation", base.fields[0][1])),
        observation_key=None,
    )


def data_horizon(source: Any) -> int:
    """The window length of ``source``: a ``WindowDataset``'s or a 3-D array's ``H``, else 1."""
    if _is_minari(source):
        return 1
    windows = getattr(source, "windows", source)
    shape = np.shape(windows)
    return int(shape[1]) if len(shape) == 3 else 1


def load_windows(
    source: Any, *, horizon: int, layout: TransitionLayout | None = None, name: str = "data"
) -> tuple[np.ndarray, TransitionLayout | None, dict[str, Any]]:
    """Raw windows ``(N, horizon, D)`` from an array, a ``WindowDataset`` or a Minari source.

    Args:
        source: array ``(N, horizon, D)`` or ``(N, D)`` (see
            :func:`rr_gym.data.windows.as_windows`), a ``WindowDataset``, or a Minari
            dataset id, path or ``MinariDataset``.
        horizon: window length.
        layout: the transition layout (default: the data's own, when it has one).
        name: how error messages call this data (``"expert data"``).

    Returns:
        ``(windows, layout or None, metadata)``.

    Raises:
        DataError: the data does not give windows of ``horizon`` steps, or its layout
            differs from ``layout``.
    """
    if _is_minari(source):
        ds = make_windows(source, horizon=horizon, layout=layout, progress=False)
        return ds.windows, ds.layout, dict(ds.metadata)
    windows, data_layout, meta = as_windows(source, horizon)
    if layout is not None and data_layout is not None and layout != data_layout:
        raise DataError(f"{name} has layout {data_layout} but layout={layout} was given")
    layout = layout or data_layout
    if layout is not None and layout.dim != windows.shape[2]:
        raise DataError(
            f"{name} has transition dim {windows.shape[2]}; layout {layout} has dim {layout.dim}"
        )
    return windows, layout, meta


def _from_minari(source: Any, layout: TransitionLayout | None) -> Transitions:
    dataset = load_dataset(source)
    if layout is None:
        layout = env_layout(dataset.observation_space, dataset.action_space, next_observation=True)
    rows, dones = [], []
    for episode, transitions in episode_rows(dataset, layout):
        rows.append(transitions)
        dones.append(np.asarray(episode.terminations, bool))
    if not rows:
        raise DataError(f"Minari dataset {dataset.id!r} has no transition")
    info = dataset_info(dataset)
    return Transitions(np.concatenate(rows), layout, np.concatenate(dones), info)


def _guess_layout(dim: int, candidates: Sequence[TransitionLayout], name: str) -> TransitionLayout:
    for layout in candidates:
        if layout.dim == dim:
            return layout
    options = ", ".join(f"{lay} (D={lay.dim})" for lay in candidates)
    raise DataError(
        f"{name} has transition dim {dim}, which fits none of the layouts the env's spaces "
        f"allow: {options}; pass layout=TransitionLayout(...)"
    )


def load_transitions(
    source: Any,
    *,
    layout: TransitionLayout | None = None,
    dones: np.ndarray | None = None,
    candidates: Sequence[TransitionLayout] = (),
    require: Sequence[str] = ("observation", "action"),
    name: str = "expert data",
) -> Transitions:
    """Single transitions from a :class:`Transitions`, an array, a ``WindowDataset`` of
    horizon 1, or a Minari dataset (id, path or object).

    Args:
        source: the data. An array is ``(N, D)`` (or ``(N, 1, D)``).
        layout: its layout; default the data's own, else the first of ``candidates`` whose
            dim fits (a Minari dataset defaults to ``observation + action +
            next_observation``).
        dones: ``(N,)`` termination flags for an array or ``WindowDataset`` (default: none
            terminated; Minari datasets give their own).
        candidates: layouts to try for an array without a layout.
        require: fields the layout must have.
        name: how error messages call this data.

    Raises:
        ConfigError: an array without a layout and no candidate.
        DataError: wrong shape, windows longer than one step, missing fields, NaN/inf.
    """
    if isinstance(source, Transitions):
        out = source
    elif _is_minari(source):
        out = _from_minari(source, layout)
    else:
        meta: dict[str, Any] = {}
        data_layout = None
        if hasattr(source, "windows") and hasattr(source, "layout"):
            data_layout, meta = source.layout, dict(getattr(source, "metadata", {}) or {})
            valid = getattr(source, "valid", None)
            windows = np.asarray(source.windows)
            if windows.ndim != 3 or windows.shape[1] != 1:
                raise DataError(
                    f"{name} is a WindowDataset of shape {windows.shape}; expected horizon 1 "
                    "(single transitions: rr_gym.data.make_transitions)"
                )
            arr = windows[:, 0] if valid is None else windows[np.asarray(valid)[:, 0], 0]
        else:
            arr = np.asarray(source, dtype=np.float32)
            if arr.ndim == 3 and arr.shape[1] == 1:
                arr = arr[:, 0]
            if arr.ndim != 2 or arr.size == 0:
                raise DataError(
                    f"{name} has shape {arr.shape}; expected non-empty transitions (N, D)"
                )
        if layout is not None and data_layout is not None and layout != data_layout:
            raise DataError(f"{name} has layout {data_layout} but layout={layout} was given")
        layout = layout or data_layout
        if layout is None:
            if not candidates:
                raise ConfigError(f"{name} is a bare array; pass layout=TransitionLayout(...)")
            layout = _guess_layout(arr.shape[1], candidates, name)
        if arr.shape[1] != layout.dim:
            raise DataError(
                f"{name} has transition dim {arr.shape[1]}; layout {layout} has dim {layout.dim}"
            )
        flags = np.zeros(len(arr), bool) if dones is None else np.asarray(dones, bool)
        if flags.shape != (len(arr),):
            raise DataError(f"dones of {name} have shape {flags.shape}; expected ({len(arr)},)")
        out = Transitions(arr, layout, flags, meta)
    missing = [f for f in require if f not in out.layout]
    if missing:
        raise DataError(
            f"{name} has layout {out.layout} without the field(s) {missing}; expected a "
            f"layout with {list(require)}"
        )
    if len(out) == 0:
        raise DataError(f"{name} has no transition")
    return out


def check_same_data_kind(
    expert_layout: TransitionLayout | None,
    base_layout: TransitionLayout | None,
    expert_meta: dict[str, Any],
    base_meta: dict[str, Any],
    expert_dim: int,
    base_dim: int,
) -> None:
    """Refuse expert and base data of different layouts, dims or spaces (names both)."""
    if expert_layout is not None and base_layout is not None and expert_layout != base_layout:
        raise DataError(
            f"expert data has layout {expert_layout} but base data has {base_layout}; "
            "both must use the same transition layout"
        )
    if expert_dim != base_dim:
        raise DataError(f"expert data has transition dim {expert_dim} but base data has {base_dim}")
    for key in ("observation_space", "action_space"):
        a, b = expert_meta.get(key), base_meta.get(key)
        if a is not None and b is not None and a != b:
            raise DataError(f"expert data has {key} {a} but base data has {b}")


def check_batch(n: int, batch: int, name: str, batch_size: int) -> None:
    """Refuse ``n`` samples when a batch draws ``batch`` of them."""
    if n < batch:
        raise DataError(
            f"{name} has {n} samples, fewer than the {batch} that each batch draws from it "
            f"(batch_size={batch_size}); give more data or a smaller batch_size"
        )


def _flat_size(space: gym.Space[Any], what: str) -> int:
    if not isinstance(space, gym.spaces.Box):
        raise ConfigError(f"the env's {what} space is {space}; expected a Box")
    return int(np.prod(space.shape)) if space.shape else 1


def check_env_spaces(
    observation_space: gym.Space[Any], action_space: gym.Space[Any], data: Transitions
) -> None:
    """Refuse expert data whose observation or action sizes differ from the env's spaces.

    Raises:
        ConfigError: a non-Box space.
        DataError: a size mismatch; the message names the data's layout and the env space.
    """
    obs, act = _flat_size(observation_space, "observation"), _flat_size(action_space, "action")
    sizes = dict(data.layout.fields)
    expected = {"observation": obs, "next_observation": obs, "action": act}
    for name, size in expected.items():
        if name in sizes and sizes[name] != size:
            space = action_space if name == "action" else observation_space
            raise DataError(
                f"expert data has {name} size {sizes[name]} (layout {data.layout}) but the "
                f"env's space is {space} of size {size}"
            )
    for key, space in (("observation_space", observation_space), ("action_space", action_space)):
        recorded = data.metadata.get(key)
        shape = getattr(space, "shape", None)
        if isinstance(recorded, str) and '"shape"' in recorded and shape is not None:
            from minari.serialization import deserialize_space

            try:
                theirs = deserialize_space(recorded)
            except (ValueError, KeyError, NotImplementedError):
                continue
            if getattr(theirs, "shape", shape) != shape:
                raise DataError(
                    f"expert data was recorded with {key} {theirs} but the env has {space}"
                )


def transition_rows(
    layout: TransitionLayout, obs: np.ndarray, act: np.ndarray, next_obs: np.ndarray
) -> np.ndarray:
    """Lay out rollout arrays as transitions ``(n, layout.dim)`` float32.

    Args:
        layout: fields among ``observation``, ``action``, ``next_observation``.
        obs: ``(n, ...)`` observations; act: ``(n, ...)`` actions; next_obs: like ``obs``.

    Raises:
        ConfigError: a field that rollouts do not provide.
    """
    n = len(obs)
    blocks = {"observation": obs, "action": act, "next_observation": next_obs}
    out = []
    for name, _ in layout.fields:
        if name not in blocks:
            raise ConfigError(
                f"layout field {name!r} cannot be built from env rollouts; expected fields "
                f"among {list(blocks)}"
            )
        out.append(np.asarray(blocks[name], np.float32).reshape(n, -1))
    return np.concatenate(out, axis=1)
