"""Running a suite: validate the options, plan the stages, build their units, report.

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
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rr_gym.bench.cache import StageCache
from rr_gym.bench.context import BenchRun, StageTiming, write_timings
from rr_gym.bench.options import STAGES, BenchOptions, validate_config
from rr_gym.bench.pairs import expand_pairs, warn_unknown_methods
from rr_gym.bench.results import ResultsTable
from rr_gym.bench.stages import PLANNERS
from rr_gym.utils.io import atomic_write_text

__all__ = ["STAGES", "BenchSummary", "make_run", "run_bench"]

logger = logging.getLogger(__name__)


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


def make_run(
    config: Mapping[str, Any],
    *,
    out_dir: str | os.PathLike[str],
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[BenchRun, BenchOptions]:
    """The run context of ``config`` (as :func:`run_bench` takes it) and its validated
    options; nothing is planned or written. A stage can be planned alone on it:
    ``PLANNERS["datasets"](run, {})``.

    Raises:
        ConfigError: any invalid option, unknown pair kinds.
    """
    options = validate_config(config)
    sizes = dict(config.get("sizes") or {})
    pairs = expand_pairs(config.get("pair") or {}, sizes, known=_config_names("pair"))
    warn_unknown_methods(pairs, [*options.methods, *_config_names("method")])
    out = Path(out_dir)
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
    return run, options


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
    run, options = make_run(config, out_dir=out_dir, cache_dir=cache_dir)
    out = run.out_dir
    out.mkdir(parents=True, exist_ok=True)
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
            state[stage] = PLANNERS[stage](run, state)
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
    write_timings(out, run.timings)
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
