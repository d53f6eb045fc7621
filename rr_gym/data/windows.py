"""Trajectory windows: what the diffusion models train on.

A :class:`WindowDataset` holds ``N`` windows of ``H`` consecutive transitions cut from the
episodes of a Minari dataset, each transition laid out by a
:class:`~rr_gym.layout.TransitionLayout`, together with the true rewards for evaluation.

Windows start every ``stride`` steps and never cross an episode boundary. The tail
policy decides what happens at episode ends:

- ``tail="drop"``: only windows that fit entirely inside an episode; episodes shorter than
  ``H`` contribute nothing and a last partial stride is left out.
- ``tail="pad"``: each episode is padded at its end, by repeating its last transition
  (reward 0), to the smallest length ``>= H`` that the stride tiles exactly; so every real
  step is in some window and short episodes give one window. ``valid`` marks real steps.

Memory: windows are materialised, ``N * H * D * 4`` bytes; with stride 1, ``N`` is about the
number of steps, so long horizons on large datasets want a larger stride.

Example:
    >>> import numpy as np
    >>> from rr_gym.layout import TransitionLayout
    >>> episodes = [np.arange(10, dtype=np.float32).reshape(5, 2)]  # 5 steps, D = 2
    >>> data = windows_from_arrays(episodes, [np.ones(5)], horizon=3,
    ...                            layout=TransitionLayout.flat(2))
    >>> data.windows.shape, data.horizon, data.transition_dim, len(data)
    ((3, 3, 2), 3, 2, 3)
    >>> data.fit_normalizer("minmax").dim
    2
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from tqdm.auto import tqdm

from rr_gym.data.fields import episode_transitions, infer_layout
from rr_gym.data.loading import DatasetSource, dataset_metadata, load_dataset, reading_episodes
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer, NormalizerKind
from rr_gym.utils.validation import check_finite, check_int

__all__ = [
    "TailPolicy",
    "WindowDataset",
    "make_transitions",
    "make_windows",
    "windows_from_arrays",
]

logger = logging.getLogger(__name__)

TailPolicy = Literal["drop", "pad"]
_TAILS = ("drop", "pad")


@dataclass(frozen=True, eq=False)
class WindowDataset:
    """Fixed-length windows of raw (unnormalised) transitions, with their true rewards.

    Attributes:
        windows: ``(N, H, D)`` float32 raw transitions; ``D = layout.dim``.
        rewards: ``(N, H)`` float32 true rewards of those transitions (0 on padding).
        layout: the transition layout (which fields fill the ``D`` axis).
        episode_ids: ``(N,)`` int64 Minari episode id each window was cut from.
        metadata: JSON-friendly dict: ``dataset_id``, ``env_id``, ``observation_space``,
            ``action_space`` (Minari's serialised form, when known), ``horizon``,
            ``stride``, ``tail``, ``layout`` (dict), ``num_episodes``, ``rr_gym`` (the
            generator's metadata, or None).
        starts: ``(N,)`` int64 step index in its episode at which each window starts.
        valid: ``(N, H)`` bool, False on padded steps (all True with ``tail="drop"``).
    """

    windows: np.ndarray
    rewards: np.ndarray
    layout: TransitionLayout
    episode_ids: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)
    starts: np.ndarray | None = None
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        w = np.asarray(self.windows)
        if w.ndim != 3:
            raise DataError(f"windows must have shape (N, H, D), got {w.shape}")
        n, h, d = w.shape
        if d != self.layout.dim:
            raise DataError(
                f"windows have D={d} but the layout {self.layout} has dim {self.layout.dim}"
            )
        if np.shape(self.rewards) != (n, h):
            raise DataError(f"rewards must have shape {(n, h)}, got {np.shape(self.rewards)}")
        if np.shape(self.episode_ids) != (n,):
            raise DataError(f"episode_ids must have shape {(n,)}, got {np.shape(self.episode_ids)}")
        starts = np.zeros(n, np.int64) if self.starts is None else np.asarray(self.starts)
        valid = np.ones((n, h), bool) if self.valid is None else np.asarray(self.valid, bool)
        if starts.shape != (n,) or valid.shape != (n, h):
            raise DataError(
                f"starts must be {(n,)} and valid {(n, h)}, got {starts.shape} and {valid.shape}"
            )
        object.__setattr__(self, "windows", w.astype(np.float32, copy=False))
        object.__setattr__(self, "rewards", np.asarray(self.rewards, np.float32))
        object.__setattr__(self, "episode_ids", np.asarray(self.episode_ids, np.int64))
        object.__setattr__(self, "starts", starts.astype(np.int64, copy=False))
        object.__setattr__(self, "valid", valid)

    @property
    def horizon(self) -> int:
        """``H``, transitions per window."""
        return int(self.windows.shape[1])

    @property
    def transition_dim(self) -> int:
        """``D``, the size of one transition vector (``layout.dim``)."""
        return int(self.windows.shape[2])

    def __len__(self) -> int:
        return int(self.windows.shape[0])

    def fit_normalizer(self, kind: NormalizerKind = "gaussian") -> Normalizer:
        """Fit a per-dimension normaliser on the real (unpadded) transitions.

        Args:
            kind: ``"gaussian"`` (mean/std), ``"minmax"`` (to [-1, 1]) or ``"identity"``.

        Returns:
            A :class:`~rr_gym.normalizer.Normalizer` of dim ``D``.
        """
        assert self.valid is not None  # set in __post_init__
        if len(self) == 0:
            raise DataError("cannot fit a normalizer on an empty WindowDataset")
        return Normalizer.fit(self.windows[self.valid], kind=kind)

    def field(self, name: str) -> np.ndarray:
        """The block of one layout field, ``(N, H, size)`` (a view)."""
        return self.windows[..., self.layout.slice(name)]

    def subset(self, index: np.ndarray | slice) -> WindowDataset:
        """Windows selected by ``index`` (bool mask, integer array or slice)."""
        assert self.starts is not None and self.valid is not None
        return WindowDataset(
            windows=self.windows[index],
            rewards=self.rewards[index],
            layout=self.layout,
            episode_ids=self.episode_ids[index],
            metadata=dict(self.metadata),
            starts=self.starts[index],
            valid=self.valid[index],
        )


def as_windows(
    data: Any, horizon: int
) -> tuple[np.ndarray, TransitionLayout | None, dict[str, Any]]:
    """Coerce training data into raw windows ``(N, horizon, D)`` float32.

    Accepts an array ``(N, horizon, D)``; an array ``(N, D)`` (points when ``horizon`` is 1,
    else one trajectory cut into every window of length ``horizon``); or an object with
    ``windows`` ``(N, H, D)`` and ``layout`` attributes (a ``rr_gym.data.WindowDataset``).

    Returns:
        ``(windows, layout or None, metadata)``.

    Raises:
        DataError: wrong rank, empty data, a horizon the data cannot provide, or NaN/inf.
    """
    horizon = check_int(horizon, "horizon", minimum=1)
    layout: TransitionLayout | None = None
    metadata: dict[str, Any] = {}
    if hasattr(data, "windows") and hasattr(data, "layout"):
        layout, metadata = data.layout, dict(getattr(data, "metadata", {}) or {})
        data = data.windows
    arr = np.asarray(data, dtype=np.float32)
    if arr.size == 0:
        raise DataError(f"training data is empty (shape {arr.shape}); expected at least one sample")
    if arr.ndim == 2:
        if horizon == 1:
            arr = arr[:, None, :]
        elif arr.shape[0] < horizon:
            raise DataError(
                f"horizon={horizon} is larger than the data: one trajectory of {arr.shape[0]} "
                f"steps gives no window; use horizon <= {arr.shape[0]}"
            )
        else:
            arr = np.lib.stride_tricks.sliding_window_view(arr, horizon, axis=0).transpose(0, 2, 1)
    elif arr.ndim != 3:
        raise DataError(
            f"training data has rank {arr.ndim} (shape {arr.shape}); expected (N, horizon, D) "
            "or (N, D)"
        )
    if arr.shape[1] != horizon:
        raise DataError(
            f"windows have horizon {arr.shape[1]} but horizon={horizon} was asked; "
            f"re-cut the data into windows of {horizon} steps (rr_gym.data.make_windows)"
        )
    check_finite(arr, "training data")
    if layout is not None and layout.dim != arr.shape[2]:
        raise DataError(f"data has transition dim {arr.shape[2]} but its layout is {layout}")
    return np.ascontiguousarray(arr), layout, metadata


def _window_starts(length: int, horizon: int, stride: int, tail: str) -> tuple[np.ndarray, int]:
    """Start indices and the padded length of one episode of ``length`` steps."""
    if tail == "drop":
        if length < horizon:
            return np.zeros(0, np.int64), length
        return np.arange(0, length - horizon + 1, stride, dtype=np.int64), length
    padded = (
        horizon
        if length <= horizon
        else (horizon + math.ceil((length - horizon) / stride) * stride)
    )
    return np.arange(0, padded - horizon + 1, stride, dtype=np.int64), padded


def windows_from_arrays(
    transitions: Sequence[np.ndarray],
    rewards: Sequence[np.ndarray],
    *,
    horizon: int,
    layout: TransitionLayout,
    stride: int = 1,
    tail: TailPolicy = "drop",
    episode_ids: Sequence[int] | None = None,
    metadata: dict[str, Any] | None = None,
) -> WindowDataset:
    """Cut windows from per-episode transition matrices.

    Args:
        transitions: one ``(T_i, D)`` array per episode.
        rewards: one ``(T_i,)`` array per episode.
        horizon: ``H``.
        layout: layout of the ``D`` axis.
        stride: steps between consecutive window starts.
        tail: ``"drop"`` or ``"pad"`` (module docstring).
        episode_ids: id of each episode (default ``0..len-1``).
        metadata: stored on the result.

    Returns:
        A :class:`WindowDataset`.

    Raises:
        ConfigError: ``horizon``/``stride`` not positive, unknown ``tail``.
        DataError: no episode, non-finite values, or no window at all (every episode
            shorter than ``H`` with ``tail="drop"``).
    """
    if not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ConfigError(f"horizon={horizon!r}; expected a positive int")
    if not isinstance(stride, int | np.integer) or stride < 1:
        raise ConfigError(f"stride={stride!r}; expected a positive int")
    if tail not in _TAILS:
        raise ConfigError(f"tail={tail!r}; expected one of {list(_TAILS)}")
    if len(transitions) == 0:
        raise DataError("the dataset has no episode; expected at least one")
    if len(rewards) != len(transitions):
        raise DataError(f"{len(transitions)} transition arrays but {len(rewards)} reward arrays")
    ids = np.arange(len(transitions)) if episode_ids is None else np.asarray(episode_ids)
    plans = []
    lengths = []
    total = 0
    for x, r in zip(transitions, rewards, strict=True):
        if x.ndim != 2 or x.shape[1] != layout.dim or r.shape != (x.shape[0],):
            raise DataError(
                f"episode arrays of shapes {x.shape} and {r.shape}; expected "
                f"(T, {layout.dim}) and (T,)"
            )
        starts, padded = _window_starts(len(x), int(horizon), int(stride), tail)
        plans.append((starts, padded))
        lengths.append(len(x))
        total += len(starts)
    if total == 0:
        raise DataError(
            f"no window of horizon {horizon}: all {len(lengths)} episodes are shorter "
            f"(longest {max(lengths)} steps, shortest {min(lengths)}); use a horizon <= "
            f"{max(lengths)} or tail='pad'"
        )
    short = sum(1 for n in lengths if n < horizon)
    if short and tail == "drop":
        logger.info(
            "%d of %d episodes are shorter than horizon %d and were dropped",
            short,
            len(lengths),
            horizon,
        )
    d = layout.dim
    out = np.empty((total, horizon, d), np.float32)
    out_r = np.empty((total, horizon), np.float32)
    out_valid = np.empty((total, horizon), bool)
    out_ids = np.empty(total, np.int64)
    out_starts = np.empty(total, np.int64)
    offsets = np.arange(horizon)
    pos = 0
    for x, r, ep_id, (starts, padded) in zip(transitions, rewards, ids, plans, strict=True):
        k = len(starts)
        if k == 0:
            continue
        n = len(x)
        if padded > n:
            x = np.concatenate([x, np.repeat(x[-1:], padded - n, axis=0)])
            r = np.concatenate([r, np.zeros(padded - n, r.dtype)])
        idx = starts[:, None] + offsets[None, :]
        out[pos : pos + k] = x[idx]
        out_r[pos : pos + k] = r[idx]
        out_valid[pos : pos + k] = idx < n
        out_ids[pos : pos + k] = ep_id
        out_starts[pos : pos + k] = starts
        pos += k
    check_finite(out, "transition windows")
    meta = dict(metadata or {})
    meta.update(
        horizon=int(horizon),
        stride=int(stride),
        tail=tail,
        layout=layout.to_dict(),
        num_episodes=len(transitions),
    )
    return WindowDataset(
        windows=out,
        rewards=out_r,
        layout=layout,
        episode_ids=out_ids,
        metadata=meta,
        starts=out_starts,
        valid=out_valid,
    )


def episode_rows(
    dataset: Any, layout: TransitionLayout, *, progress: bool = False
) -> Iterator[tuple[Any, np.ndarray]]:
    """``(episode, transitions (T, layout.dim))`` of every non-empty episode of a Minari
    ``dataset``, in order; a read failure becomes a :class:`~rr_gym.errors.DataError`
    naming the file (:func:`~rr_gym.data.loading.reading_episodes`)."""
    with reading_episodes(dataset):
        for episode in tqdm(
            dataset.iterate_episodes(),
            total=dataset.total_episodes,
            desc=f"episodes {dataset.id}",
            disable=not progress,
            unit="ep",
            leave=False,
        ):
            if len(episode.rewards) == 0:
                continue
            rows = episode_transitions(
                episode.observations, episode.actions, episode.rewards, layout
            )
            yield episode, rows


def dataset_info(dataset: Any) -> dict[str, Any]:
    """What data made from a Minari ``dataset`` records about it: ids, spaces, steps and
    rr_gym's own metadata."""
    meta = dataset_metadata(dataset)
    env_spec = dataset.env_spec
    return {
        "dataset_id": dataset.id,
        "env_id": None if env_spec is None else env_spec.id,
        "observation_space": meta.get("observation_space"),
        "action_space": meta.get("action_space"),
        "total_steps": int(meta.get("total_steps", 0)),
        "rr_gym": meta.get("rr_gym"),
    }


def _layout_for(dataset: Any) -> TransitionLayout:
    extra = dataset.storage.metadata.get("rr_gym") or {}
    if isinstance(extra, dict) and "layout" in extra:
        return TransitionLayout.from_dict(extra["layout"])
    return infer_layout(dataset.observation_space, dataset.action_space)


def make_windows(
    source: DatasetSource,
    *,
    horizon: int,
    stride: int = 1,
    tail: TailPolicy = "drop",
    layout: TransitionLayout | None = None,
    download: bool = True,
    progress: bool = True,
) -> WindowDataset:
    """Load a Minari dataset (id, path or MinariDataset) and cut it into windows.

    Args:
        source: see :func:`~rr_gym.data.loading.load_dataset`.
        horizon: ``H``, transitions per window.
        stride: steps between window starts.
        tail: ``"drop"`` or ``"pad"`` (module docstring).
        layout: transition layout; None infers it: the one recorded by rr_gym's generator,
            else ``observation + action`` from the spaces (PointMaze:
            ``TransitionLayout(fields=(("observation", 4), ("action", 2)),
            observation_key="observation")``).
        download: allow a download when an id is not local.
        progress: show a progress bar over episodes.

    Returns:
        :class:`WindowDataset` with ``windows (N, H, D)``, ``rewards (N, H)``,
        ``episode_ids (N,)``.

    Raises:
        DatasetNotFoundError: unknown id or path.
        DataError: empty dataset, a layout field the data lacks, every episode shorter
            than ``horizon`` with ``tail="drop"``.
    """
    dataset = load_dataset(source, download=download)
    if layout is None:
        layout = _layout_for(dataset)
    n_episodes = dataset.total_episodes
    if n_episodes == 0:
        raise DataError(f"Minari dataset {dataset.id!r} has no episode")
    transitions: list[np.ndarray] = []
    rewards: list[np.ndarray] = []
    ids: list[int] = []
    for episode, rows in episode_rows(dataset, layout, progress=progress):
        transitions.append(rows)
        rewards.append(np.asarray(episode.rewards, np.float32))
        ids.append(int(episode.id))
    if not transitions:
        raise DataError(f"Minari dataset {dataset.id!r} has only empty episodes")
    info = dataset_info(dataset)
    return windows_from_arrays(
        transitions,
        rewards,
        horizon=horizon,
        layout=layout,
        stride=stride,
        tail=tail,
        episode_ids=ids,
        metadata=info,
    )


def make_transitions(
    source: DatasetSource,
    *,
    layout: TransitionLayout | None = None,
    download: bool = True,
    progress: bool = True,
) -> WindowDataset:
    """Every transition as a window of horizon 1: ``windows`` is ``(M, 1, D)``.

    ``M`` is the number of steps of the dataset. ``windows[:, 0]`` is the flat ``(M, D)``
    transition matrix and ``rewards[:, 0]`` the ``(M,)`` rewards.
    """
    return make_windows(
        source,
        horizon=1,
        stride=1,
        tail="drop",
        layout=layout,
        download=download,
        progress=progress,
    )
