"""Running a suite: the run context, the stage order, timings, and the entry point.

:func:`run_bench` takes the resolved config as plain data (the Hydra app converts it), lets
the selected stages plan their units (:class:`~rr_gym.bench.scheduler.UnitPlan`), builds
them as one dependency graph (in ``jobs`` worker processes) and writes the report. Each
unit's result rows are stored with it and (re-)emitted into ``results.csv`` whether it was
built now or found in the cache, so a rerun rebuilds nothing and still writes the complete
table.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from rr_gym.bench.cache import CachedUnit, StageCache, read_unit_json
from rr_gym.bench.methods import METHODS
from rr_gym.bench.options import STAGES, validate_config
from rr_gym.bench.pairs import PairSpec, expand_pairs, warn_unknown_methods
from rr_gym.bench.results import ResultRow, ResultsTable
from rr_gym.bench.scheduler import UnitPlan
from rr_gym.errors import CheckpointError
from rr_gym.utils.io import atomic_write_text

__all__ = ["STAGES", "BenchRun", "BenchSummary", "StageTiming", "run_bench"]

logger = logging.getLogger(__name__)


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
        _write_timings(self.out_dir, self.timings)

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


@dataclass
class BenchSummary:
    """What a run produced.

    Attributes:
        out_dir: the run's folder.
        results_path: ``results.csv``.
        report_path: ``report.md`` (None when the report stage did not run).
        timings: per-stage timings.
        seconds: total wall time.
    """

    out_dir: Path
    results_path: Path
    report_path: Path | None
    timings: dict[str, StageTiming]
    seconds: float


def run_bench(
    config: Mapping[str, Any],
    *,
    out_dir: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
) -> BenchSummary:
    """Run a suite described by plain ``config`` (the resolved Hydra config as a dict).

    Args:
        config: keys ``suite`` (``name``), ``seeds``, ``pair`` (name -> pair config),
            ``method`` (name -> method config), ``agent``, ``sizes``, ``stages``,
            ``device``, ``progress``, ``jobs``, ``torch_threads``.
        out_dir: where ``results.csv``, ``config.json``, ``timings.json``, ``report.md``
            and ``figures/`` go.
        cache_dir: the stage cache (default ``<out_dir>/cache``).

    Returns:
        :class:`BenchSummary`.

    Raises:
        ConfigError: any invalid option (:func:`~rr_gym.bench.options.validate_config`),
            unknown pair kinds; raised before anything is written.
        CheckpointError: a cached unit is corrupt (the message names the folder to delete).
    """
    from rr_gym.bench import stages as stage_impl

    options = validate_config(config)
    sizes = dict(config.get("sizes") or {})
    pairs = expand_pairs(config.get("pair") or {}, sizes, known=_config_names("pair"))
    warn_unknown_methods(pairs, [*options.methods, *_config_names("method")])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = BenchRun(
        suite=str((config.get("suite") or {}).get("name", "custom")),
        seeds=options.seeds,
        pairs=pairs,
        methods=options.methods,
        agent=dict(config.get("agent") or {"name": "ppo", "algo": "ppo"}),
        cache=StageCache(cache_dir if cache_dir is not None else out / "cache"),
        results=ResultsTable(out / "results.csv"),
        out_dir=out,
        device=options.device,
        progress=options.progress,
        jobs=options.jobs,
        torch_threads=options.torch_threads or 1,
        config=dict(config),
    )
    atomic_write_text(out / "config.json", json.dumps(run.config, indent=2, default=str))
    removed = run.cache.remove_stale_temporaries()
    logger.info(
        "removed %d stale temporar%s of dead processes from the cache %s",
        len(removed),
        "y" if len(removed) == 1 else "ies",
        run.cache.root,
    )
    stages = options.stages
    state: dict[str, Any] = {}
    for stage in stages:
        if stage != "report" and stage not in state:
            state[stage] = getattr(stage_impl, f"stage_{stage}")(run, state)
    for stage in STAGES:  # every planned stage has a timing, even when all of it is cached
        if stage in state:
            run.timings.setdefault(stage, StageTiming())
    logger.info("%d units in stages %s", len(run.plan), [s for s in STAGES if s in state])
    executor, jobs = None, run.jobs
    if options.executor == "ray":
        from rr_gym.bench.ray_executor import RayExecutor

        executor = RayExecutor(device=run.device, address=options.ray_address)
        jobs = executor.slots(run.torch_threads)
    run.plan.run(
        jobs=jobs,
        threads=run.torch_threads,
        progress=run.progress,
        on_done=run.record,
        executor=executor,
    )
    _write_timings(out, run.timings)
    report_path = None
    if "report" in stages:
        from rr_gym.bench.report import write_report

        report_path = write_report(run)
    return BenchSummary(
        out, run.results.path, report_path, run.timings, time.perf_counter() - run.started
    )


def _config_names(group: str) -> list[str]:
    """The names of the bench's configs of one Hydra group (``conf/<group>/*.yaml``)."""
    folder = resources.files("rr_gym.bench.conf") / group
    return [f.name.removesuffix(".yaml") for f in folder.iterdir() if f.name.endswith(".yaml")]


def _write_timings(out: Path, timings: Mapping[str, StageTiming]) -> None:
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
