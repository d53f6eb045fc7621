"""UnitPlan: units of every stage run as a dependency graph, in worker processes."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from rr_gym.bench.cache import BuildContext, StageCache
from rr_gym.bench.scheduler import UnitPlan, UnitSpec


def _stamp(seconds: float = 0.0, read: str | None = None, fail: bool = False):
    """A build that records when it ran (and optionally reads an input unit's file)."""

    def build(ctx: BuildContext) -> None:
        start = time.time()
        if read is not None:
            assert Path(read, "span.json").is_file(), "an input was not built first"
        time.sleep(seconds)
        if fail:
            raise RuntimeError("this unit fails")
        (ctx.path / "span.json").write_text(json.dumps([start, time.time()]))

    return build


def _span(path: Path) -> list[float]:
    return json.loads((path / "span.json").read_text())


@pytest.mark.parametrize("jobs", [1, 2])
def test_inputs_are_built_before_the_units_that_consume_them(tmp_path: Path, jobs: int) -> None:
    plan = UnitPlan(StageCache(tmp_path))
    (data,) = plan.add("data", [UnitSpec({"d": 0}, _stamp(0.3), [])])
    models = plan.add(
        "model", [UnitSpec({"m": i}, _stamp(read=str(data.path)), [data.key]) for i in range(3)]
    )
    (report,) = plan.add(
        "report", [UnitSpec({}, _stamp(read=str(models[0].path)), [m.key for m in models])]
    )
    seen = []
    units = plan.run(jobs=jobs, on_done=seen.append)
    assert [u.stage for u in units] == ["data", "model", "model", "model", "report"]
    assert not any(u.hit for u in units) and len(seen) == 5
    assert max(_span(m.path)[1] for m in models) <= _span(report.path)[0]
    assert all(_span(data.path)[1] <= _span(m.path)[0] for m in models)


def test_independent_work_of_a_later_stage_overlaps_a_slow_unit(tmp_path: Path) -> None:
    """The point of the graph: a core does not wait for the slow unit of a stage."""
    plan = UnitPlan(StageCache(tmp_path))
    slow, fast = plan.add(
        "datasets",
        [UnitSpec({"n": "slow"}, _stamp(3.0), []), UnitSpec({"n": "fast"}, _stamp(), [])],
    )
    (model,) = plan.add("diffusion", [UnitSpec({}, _stamp(read=str(fast.path)), [fast.key])])
    plan.run(jobs=2)
    assert _span(model.path)[1] < _span(slow.path)[1]  # built while the slow unit ran


def test_no_executor_thread_outlives_a_parallel_run(tmp_path: Path) -> None:
    """A later fork in this process (e.g. a Gymnasium async vector env) must not inherit
    the lock of a live executor thread."""
    before = {t.ident for t in threading.enumerate()}
    plan = UnitPlan(StageCache(tmp_path))
    plan.add("data", [UnitSpec({"d": i}, _stamp(), []) for i in range(3)])
    plan.run(jobs=2)
    assert {t.ident for t in threading.enumerate() if t.is_alive()} <= before


def test_a_unit_planned_twice_is_built_once_and_a_rerun_hits_the_cache(tmp_path: Path) -> None:
    plan = UnitPlan(StageCache(tmp_path))
    first = plan.add("data", [UnitSpec({"d": 1}, _stamp(), [])] * 2)
    assert first[0] == first[1] and len(plan) == 1
    assert [u.hit for u in plan.run()] == [False]
    seen = []
    again = UnitPlan(StageCache(tmp_path))
    again.add("data", [UnitSpec({"d": 1}, _stamp(fail=True), [])])  # would fail if built
    assert [u.hit for u in again.run(jobs=2, on_done=seen.append)] == [True]
    assert [u.hit for u in seen] == [True]


def test_a_failing_unit_raises_after_the_running_ones_are_cached(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    plan = UnitPlan(cache)
    ok, bad = plan.add(
        "rewards",
        [UnitSpec({"m": "ok"}, _stamp(1.0), []), UnitSpec({"m": "bad"}, _stamp(fail=True), [])],
    )
    (after,) = plan.add("retrain", [UnitSpec({}, _stamp(), [bad.key])])
    with pytest.raises(RuntimeError, match="this unit fails"):
        plan.run(jobs=2)
    assert cache.get("rewards", ok.key) is not None  # finished and cached despite the error
    assert cache.get("rewards", bad.key) is None
    assert cache.get("retrain", after.key) is None  # never started: its input failed
