"""The run context the stages share: :class:`BenchRun`, per-stage timings and result rows.

A stage module imports this, never the runner, so the runner can import every stage and
no stage imports back (docs/design.md, "Architecture").
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rr_gym.bench.cache import CachedUnit, StageCache, read_unit_json
from rr_gym.bench.methods import METHODS
from rr_gym.bench.pairs import PairSpec
from rr_gym.bench.results import ResultRow, ResultsTable
from rr_gym.bench.scheduler import UnitPlan
from rr_gym.errors import CheckpointError
from rr_gym.utils.io import atomic_write_text

__all__ = ["BenchRun", "StageTiming", "row", "seeds_and_pairs", "write_rows", "write_timings"]


@dataclass
class StageTiming:
    """Time of one stage's units in this run (stages overlap, so these are unit times).

    Attributes:
        seconds: wall time of the units built now, summed over units.
        built: units built now.
        cached: units found in the cache.
        cached_seconds: what the cached units originally took.
    """

    seconds: float = 0.0
    built: int = 0
    cached: int = 0
    cached_seconds: float = 0.0


@dataclass
class BenchRun:
    """Everything the stages share.

    Attributes:
        suite: suite name (the ``suite`` column of results).
        seeds: training seeds.
        pairs: the dataset pairs.
        methods: method name -> config (``kind`` plus options).
        agent: the retraining agent's config (``name``, ``algo``, ``kwargs``).
        cache: the stage cache.
        results: the results table.
        out_dir: where results, figures and the report go.
        device: torch device string.
        progress: progress bars.
        jobs: worker processes for a stage's units (1: all in this process).
        torch_threads: torch threads per worker process.
        config: the whole resolved config (saved with the results).
        timings: per-stage timings.
        artifacts: stage -> unit folders whose files the report reads.
        plan: the units the stages planned.
        started: ``time.perf_counter()`` at the start of the run.
    """

    suite: str
    seeds: list[int]
    pairs: list[PairSpec]
    methods: dict[str, dict[str, Any]]
    agent: dict[str, Any]
    cache: StageCache
    results: ResultsTable
    out_dir: Path
    device: str = "cpu"
    progress: bool = True
    jobs: int = 1
    torch_threads: int = 1
    config: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, StageTiming] = field(default_factory=dict)
    artifacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    plan: UnitPlan = field(init=False)
    started: float = field(default_factory=time.perf_counter)
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.plan = UnitPlan(self.cache)

    def __getstate__(self) -> dict[str, Any]:
        """What a worker process gets: no loaded models, no plan, no nested progress bars."""
        state = dict(self.__dict__)
        state["_loaded"] = {}
        state["plan"] = None
        state["progress"] = False
        return state

    def record(self, unit: CachedUnit) -> None:
        """Count ``unit`` in its stage's timing and emit its rows."""
        timing = self.timings.setdefault(unit.stage, StageTiming())
        if unit.hit:
            timing.cached += 1
            timing.cached_seconds += unit.seconds
        else:
            timing.built += 1
            timing.seconds += unit.seconds
        self.emit(unit)
        write_timings(self.out_dir, self.timings)

    def emit(self, unit: CachedUnit) -> None:
        """Append the unit's stored rows (``rows.json``) to results, stamped with the suite.

        Raises:
            CheckpointError: ``rows.json`` is corrupt (the message says which unit folder
                to delete so that it is rebuilt).
        """
        path = unit.path / "rows.json"
        if not path.is_file():
            return
        rows = read_unit_json(path, unit.path)
        self.results.append(
            ResultRow(
                self.suite,
                r["pair"],
                r["method"],
                int(r["seed"]),
                r["metric"],
                float(r["value"]),
                float(r["wall_time_s"]),
            )
            for r in rows
        )

    def load(self, path: Path) -> Any:
        """A saved model (diffusion, reward, policy), loaded once per run.

        Raises:
            CheckpointError: the model is truncated or corrupt; the message names the cache
                unit folder to delete so that it is rebuilt.
        """
        key = os.fspath(path)
        if key not in self._loaded:
            import rr_gym

            try:
                self._loaded[key] = rr_gym.load(path, device=self.device)
            except CheckpointError as exc:
                unit = self.cache.unit_of(Path(path))
                if unit is None:
                    raise
                cause = str(exc).rstrip(".")
                raise CheckpointError(
                    f"{cause}. It is part of the cache unit {unit}: delete that folder (e.g. "
                    f"rm -r {shlex.quote(os.fspath(unit))}) and rerun the same command to "
                    "rebuild it"
                ) from exc
        return self._loaded[key]

    def reward_methods(self) -> list[str]:
        """Names of the selected methods that produce rewards."""
        return [n for n, c in self.methods.items() if METHODS[c["kind"]].produces == "reward"]


def write_rows(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Store a unit's result rows (``pair, method, seed, metric, value, wall_time_s``)."""
    atomic_write_text(path / "rows.json", json.dumps(list(rows), indent=1))


def row(
    pair: str, method: str, seed: int, metric: str, value: float, seconds: float
) -> dict[str, Any]:
    """One result row as stored in a unit."""
    return {
        "pair": pair,
        "method": method,
        "seed": int(seed),
        "metric": metric,
        "value": float(value),
        "wall_time_s": float(seconds),
    }


def write_timings(out: Path, timings: Mapping[str, StageTiming]) -> None:
    """Write ``timings.json``: stage -> :class:`StageTiming` fields."""
    atomic_write_text(
        out / "timings.json",
        json.dumps({k: vars(v) for k, v in timings.items()}, indent=2),
    )


def seeds_and_pairs(
    run: BenchRun, kinds: Sequence[str] | None = None, *, trajectory: bool = True
) -> list[tuple[PairSpec, int]]:
    """Every (pair, seed) of the run's trajectory pairs (``trajectory=False``: its image
    pairs), optionally only pairs of ``kinds``."""
    return [
        (p, s)
        for p in run.pairs
        for s in run.seeds
        if p.kind_impl.trajectory == trajectory and (kinds is None or p.kind in kinds)
    ]
