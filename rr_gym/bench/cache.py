"""The bench's on-disk stage cache: one folder per unit of work, keyed by a config hash.

A unit of work (a dataset, a diffusion model, a reward, an evaluation...) is identified by
its stage name and the sha256 of the canonical JSON of its config together with the keys
of the units it consumes, so a change anywhere upstream changes every key downstream. A
unit is built into a temporary folder that is renamed into place only when the build
returns (:func:`rr_gym.utils.io.atomic_directory`), with a ``manifest.json`` and a
``DONE`` marker inside; an interrupted build leaves nothing at the final path, and a rerun
skips every finished unit. Long builds get a persistent ``work_dir`` for checkpoints, so
they resume where they stopped. A per-key file lock lets concurrent jobs of a sweep share
one cache: the second waits and then reads the first one's result.

Example:
    >>> import tempfile
    >>> cache = StageCache(tempfile.mkdtemp())
    >>> def build(unit: BuildContext) -> None:
    ...     (unit.path / "out.txt").write_text("hello")
    >>> first = cache.run("demo", {"size": 3}, build)
    >>> second = cache.run("demo", {"size": 3}, build)
    >>> first.hit, second.hit, first.key == second.key
    (False, True, True)
    >>> (second.path / "out.txt").read_text()
    'hello'
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import shlex
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rr_gym._version import __version__
from rr_gym.errors import CheckpointError, ConfigError
from rr_gym.utils.io import atomic_directory, atomic_write_text, remove_stale_temporaries

__all__ = [
    "CACHE_FORMAT",
    "BuildContext",
    "CachedUnit",
    "StageCache",
    "canonical_json",
    "config_hash",
    "read_unit_json",
]

logger = logging.getLogger(__name__)

#: Bumped when the layout of cached units changes; part of every key.
CACHE_FORMAT = 1
_DONE = "DONE"
_MANIFEST = "manifest.json"


def _plain(value: Any) -> Any:
    """``value`` as JSON-able plain data (tuples as lists, paths as strings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # NumPy scalars
        return _plain(value.item())
    raise ConfigError(
        f"cache configs must be plain data (dict, list, str, number, bool, None); got "
        f"{type(value).__name__}: {value!r}"
    )


def _is_unit(path: Path) -> bool:
    """Whether ``path`` is a (finished or damaged) cache unit, which a rebuild may replace."""
    return (path / _MANIFEST).is_file() or (path / _DONE).is_file()


def canonical_json(value: Any) -> str:
    """Canonical JSON of plain data: sorted keys, no spaces, tuples as lists.

    Example:
        >>> canonical_json({"b": (1, 2), "a": None})
        '{"a":null,"b":[1,2]}'
    """
    return json.dumps(_plain(value), sort_keys=True, separators=(",", ":"))


def config_hash(stage: str, config: Mapping[str, Any], inputs: Sequence[str] = ()) -> str:
    """Key of a unit: sha256 (first 16 hex digits) of its stage, config and input keys."""
    payload = canonical_json(
        {"format": CACHE_FORMAT, "stage": stage, "config": config, "inputs": list(inputs)}
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def corrupt_unit_hint(unit: Path) -> str:
    """What to do about a corrupt cache unit: delete its folder and rerun."""
    return (
        f"delete the cache unit folder {unit} (e.g. rm -r {shlex.quote(os.fspath(unit))}) "
        "and rerun the same command: that unit is rebuilt, every other one is read from "
        "the cache"
    )


def read_unit_json(path: Path, unit: Path) -> Any:
    """The JSON file ``path`` of the cache unit ``unit``.

    Raises:
        CheckpointError: the file is missing or not valid JSON (truncated or edited); the
            message names it and the unit folder to delete.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise CheckpointError(
            f"the cached file {path} is missing; {corrupt_unit_hint(unit)}"
        ) from exc
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        hint = corrupt_unit_hint(unit)
        raise CheckpointError(f"the cached file {path} is corrupt ({exc}); {hint}") from exc


@dataclass(frozen=True)
class BuildContext:
    """What a build function gets.

    Attributes:
        path: the temporary folder to write the unit's files into.
        work_dir: a persistent folder for checkpoints of a long build (kept when the build
            is interrupted, removed after it succeeds).
        key: the unit's key.
        config: the unit's config.
    """

    path: Path
    work_dir: Path
    key: str
    config: Mapping[str, Any]


@dataclass(frozen=True)
class CachedUnit:
    """A finished unit.

    Attributes:
        stage: stage name.
        key: config hash.
        path: its folder.
        hit: True when it was found in the cache, False when built by this call.
        seconds: wall time of the build that produced it (this call's or the original one).
        value: what the build function returned (None on a hit).
    """

    stage: str
    key: str
    path: Path
    hit: bool
    seconds: float
    value: Any = None

    def manifest(self) -> dict[str, Any]:
        """The unit's ``manifest.json`` (config, inputs, seconds, version).

        Raises:
            CheckpointError: it is corrupt (the message says which folder to delete).
        """
        return read_unit_json(self.path / _MANIFEST, self.path)


class StageCache:
    """Finished units of work under ``root/<stage>/<key>/``.

    Args:
        root: the cache folder (created when needed).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, stage: str, key: str) -> Path:
        """Folder of a unit (whether or not it exists)."""
        return self.root / stage / key

    def unit_of(self, path: Path) -> Path | None:
        """The unit folder (``root/<stage>/<key>``) that ``path`` lies in, or None."""
        try:
            parts = Path(path).resolve().relative_to(self.root.resolve()).parts
        except ValueError:
            return None
        return self.root / parts[0] / parts[1] if len(parts) >= 2 else None

    def remove_stale_temporaries(self) -> list[Path]:
        """Sweep what dead processes left: stale temporaries in the root and stage folders.

        Calls :func:`rr_gym.utils.io.remove_stale_temporaries` on the root and on every
        folder directly under it (live writers' temporaries are left alone).

        Returns:
            The temporaries removed (or restored).
        """
        removed = remove_stale_temporaries(self.root)
        if self.root.is_dir():
            for stage in sorted(self.root.iterdir()):
                if stage.is_dir() and not stage.is_symlink():
                    removed += remove_stale_temporaries(stage)
        return removed

    def get(self, stage: str, key: str) -> Path | None:
        """Folder of a finished unit, or None."""
        path = self.path(stage, key)
        return path if (path / _DONE).is_file() else None

    @contextlib.contextmanager
    def _lock(self, stage: str, key: str) -> Iterator[None]:
        lock_path = self.root / stage / f".{key}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def run(
        self,
        stage: str,
        config: Mapping[str, Any],
        build: Callable[[BuildContext], Any],
        *,
        inputs: Sequence[str] = (),
    ) -> CachedUnit:
        """Return the finished unit of ``(stage, config, inputs)``, building it if missing.

        Args:
            stage: stage name (a folder under the root).
            config: the unit's plain-data config (hashed into the key).
            build: called with a :class:`BuildContext` when the unit is missing; writes its
                files into ``context.path``. If it raises, nothing is left at the unit's
                path (its ``work_dir`` stays for a resume).
            inputs: keys of the units this one consumes.

        Returns:
            :class:`CachedUnit`.
        """
        key = config_hash(stage, config, inputs)
        final = self.path(stage, key)
        with self._lock(stage, key):
            if (final / _DONE).is_file():
                manifest = read_unit_json(final / _MANIFEST, final)
                seconds = float(manifest.get("seconds", 0.0))
                logger.debug("cache hit %s/%s", stage, key)
                return CachedUnit(stage, key, final, True, seconds)
            work_dir = self.root / stage / f"{key}.work"
            work_dir.mkdir(parents=True, exist_ok=True)
            tick = time.perf_counter()
            with atomic_directory(final, replaces=_is_unit, what="a bench cache unit") as tmp:
                value = build(BuildContext(tmp, work_dir, key, config))
                seconds = time.perf_counter() - tick
                manifest = {
                    "stage": stage,
                    "key": key,
                    "config": _plain(config),
                    "inputs": list(inputs),
                    "seconds": seconds,
                    "rr_gym_version": __version__,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                }
                atomic_write_text(tmp / _MANIFEST, json.dumps(manifest, indent=2))
                (tmp / _DONE).write_text("")
            shutil.rmtree(work_dir, ignore_errors=True)
            logger.debug("built %s/%s in %.1f s", stage, key, seconds)
            return CachedUnit(stage, key, final, False, seconds, value)
