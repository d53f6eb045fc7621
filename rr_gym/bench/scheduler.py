"""Running the bench's units as a dependency graph, across stages, on a pool of workers.

Stages only *plan* their units (:meth:`UnitPlan.add`): a unit's key and folder follow from
its config and the keys of its inputs, so a later stage can plan on top of units that do not
exist yet. :meth:`UnitPlan.run` then finds the finished units in the cache and builds the
others, each as soon as the units it consumes are done. With ``jobs`` worker processes no
core waits for a stage to finish while independent work is ready (e.g. the maze diffusion
models train while the Hopper expert is still being trained by PPO).

Example:
    >>> import tempfile
    >>> from rr_gym.bench.cache import StageCache
    >>> plan = UnitPlan(StageCache(tempfile.mkdtemp()))
    >>> def write(text):
    ...     return lambda ctx: (ctx.path / "out.txt").write_text(text)
    >>> (data,) = plan.add("data", [UnitSpec({"n": 1}, write("data"), [])])
    >>> (model,) = plan.add("model", [UnitSpec({"lr": 0.1}, write("model"), [data.key])])
    >>> [(u.stage, u.hit) for u in plan.run(jobs=1)]
    [('data', False), ('model', False)]
    >>> [(u.stage, u.hit) for u in plan.run(jobs=1)]
    [('data', True), ('model', True)]
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from rr_gym.bench.cache import BuildContext, CachedUnit, StageCache, config_hash

__all__ = ["PlannedUnit", "UnitPlan", "UnitSpec"]

logger = logging.getLogger(__name__)


@dataclass
class UnitSpec:
    """One unit of a stage: what is hashed, what it consumes, how it is built.

    Attributes:
        config: plain-data config (hashed into the key).
        build: writes the unit's files into ``BuildContext.path``; runs in a worker process
            when ``jobs > 1`` (so it must pickle with cloudpickle).
        inputs: keys of the units it consumes (hashed into the key; a key that no planned
            unit has, such as a downloaded dataset's, counts as available).
    """

    config: dict[str, Any]
    build: Callable[[BuildContext], Any]
    inputs: list[str]


@dataclass(frozen=True)
class PlannedUnit:
    """A unit whose key and folder are known before it is built.

    Attributes:
        stage: stage name.
        key: config hash.
        path: its folder in the cache (exists once built).
    """

    stage: str
    key: str
    path: Path


def _worker(root: str, stage: str, spec: UnitSpec, threads: int) -> tuple[bool, float]:
    """Find or build one unit in a worker process; returns ``(hit, seconds)``."""
    import torch

    torch.set_num_threads(threads)
    unit = StageCache(root).run(stage, spec.config, spec.build, inputs=spec.inputs)
    return unit.hit, unit.seconds


class UnitPlan:
    """The units of a run, in planning order (which is a topological order).

    Args:
        cache: where units are found and built.
    """

    def __init__(self, cache: StageCache) -> None:
        self.cache = cache
        self._specs: dict[str, tuple[PlannedUnit, UnitSpec]] = {}

    def __len__(self) -> int:
        return len(self._specs)

    def __iter__(self) -> Iterator[PlannedUnit]:
        """The planned units, in planning order."""
        return (unit for unit, _ in self._specs.values())

    def add(self, stage: str, specs: Iterable[UnitSpec]) -> list[PlannedUnit]:
        """Plan ``specs`` of ``stage``; a unit planned twice (same key) is built once."""
        out = []
        for spec in specs:
            key = config_hash(stage, spec.config, spec.inputs)
            if key not in self._specs:
                unit = PlannedUnit(stage, key, self.cache.path(stage, key))
                self._specs[key] = (unit, spec)
            out.append(self._specs[key][0])
        return out

    def run(
        self,
        *,
        jobs: int = 1,
        threads: int = 1,
        progress: bool = False,
        on_done: Callable[[CachedUnit], None] | None = None,
        executor: Any | None = None,
    ) -> list[CachedUnit]:
        """Find or build every planned unit.

        Finished units come from the cache; the others are built in planning order, in this
        process (``jobs == 1``) or in ``jobs`` worker processes, each as soon as its inputs
        are done. ``executor`` (e.g. :class:`~rr_gym.bench.ray_executor.RayExecutor`)
        replaces the worker processes: up to ``jobs`` units run on it at once. ``on_done``
        is called in this process as each unit finishes (cached ones
        first). If a build fails, the units already running finish (and are cached) and the
        error is raised.

        Returns:
            The finished units, in planning order.
        """
        done: dict[str, CachedUnit] = {}
        todo: list[tuple[PlannedUnit, UnitSpec]] = []
        for unit, spec in self._specs.values():
            if self.cache.get(unit.stage, unit.key) is not None:
                finished = self.cache.run(unit.stage, spec.config, spec.build, inputs=spec.inputs)
                done[unit.key] = finished
                if on_done is not None:
                    on_done(finished)
            else:
                todo.append((unit, spec))
        bar = tqdm(total=len(self._specs), initial=len(done), unit="unit", disable=not progress)

        def finish(result: CachedUnit) -> None:
            done[result.key] = result
            if on_done is not None:
                on_done(result)
            bar.set_description(result.stage)
            bar.update(1)

        with bar:
            if executor is not None:
                try:
                    self._run_parallel(executor, todo, done, jobs, threads, finish)
                finally:
                    executor.shutdown(wait=True)
            elif jobs <= 1 or len(todo) <= 1:
                for unit, spec in todo:
                    bar.set_description(unit.stage)
                    finish(self.cache.run(unit.stage, spec.config, spec.build, inputs=spec.inputs))
            else:
                from joblib.externals.loky import get_reusable_executor

                # Shut down at the end, so no executor thread outlives the run (a later fork
                # in this process, e.g. a Gymnasium async vector env, could inherit a lock).
                executor = get_reusable_executor(max_workers=jobs)
                try:
                    self._run_parallel(executor, todo, done, jobs, threads, finish)
                except BaseException:
                    executor.shutdown(wait=True, kill_workers=True)
                    raise
                executor.shutdown(wait=True)
        return [done[key] for key in self._specs]

    def _run_parallel(
        self,
        executor: Any,
        todo: list[tuple[PlannedUnit, UnitSpec]],
        done: dict[str, CachedUnit],
        jobs: int,
        threads: int,
        finish: Callable[[CachedUnit], None],
    ) -> None:
        running: dict[Future[tuple[bool, float]], PlannedUnit] = {}
        pending = list(todo)
        root = str(self.cache.root)
        error: BaseException | None = None
        while pending or running:
            if error is None:
                for item in list(pending):
                    if len(running) >= jobs:
                        break
                    unit, spec = item
                    if all(k in done or k not in self._specs for k in spec.inputs):
                        future = executor.submit(_worker, root, unit.stage, spec, threads)
                        running[future] = unit
                        pending.remove(item)
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                unit = running.pop(future)
                try:
                    hit, seconds = future.result()
                except BaseException as exc:  # let the running units finish and be cached
                    logger.error("building %s/%s failed: %s", unit.stage, unit.key, exc)
                    error = error or exc
                    continue
                finish(CachedUnit(unit.stage, unit.key, unit.path, hit, seconds))
        if error is not None:
            raise error
        if pending:  # unreachable: planning order is topological
            raise RuntimeError(f"units whose inputs never finished: {[u.key for u, _ in pending]}")
