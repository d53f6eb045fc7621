"""results.csv: schema, atomic upserts, concurrent writers."""

from __future__ import annotations

import math
import multiprocessing
from pathlib import Path

import pytest

from rr_gym.bench.results import COLUMNS, ResultRow, ResultsTable
from rr_gym.errors import DataError


def _row(metric: str, value: float, seed: int = 0, method: str = "relative_reward") -> ResultRow:
    return ResultRow("smoke", "umaze-goal1", method, seed, metric, value, 1.25)


def test_schema_and_round_trip(tmp_path: Path) -> None:
    table = ResultsTable(tmp_path / "results.csv")
    assert table.read() == []
    table.append([_row("epic", 0.25), _row("pearson", math.nan)])
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    assert header == ",".join(COLUMNS)
    assert COLUMNS == ("suite", "pair", "method", "seed", "metric", "value", "wall_time_s")
    rows = table.read()
    assert rows[0] == _row("epic", 0.25)
    assert math.isnan(rows[1].value)


def test_append_replaces_rows_with_the_same_key(tmp_path: Path) -> None:
    table = ResultsTable(tmp_path / "results.csv")
    table.append([_row("epic", 0.5), _row("epic", 0.4, seed=1)])
    table.append([_row("epic", 0.3), _row("spearman", 0.9)])
    got = {(r.seed, r.metric): r.value for r in table.read()}
    assert got == {(0, "epic"): 0.3, (1, "epic"): 0.4, (0, "spearman"): 0.9}
    table.append([])  # no-op
    assert len(table.read()) == 3


def test_wrong_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="expected"):
        ResultsTable(path).read()


def _writer(path: str, worker: int) -> None:
    table = ResultsTable(path)
    for i in range(15):
        table.append([_row(f"m{i}", float(i), seed=worker)])


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(path), w)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = ResultsTable(path).read()
    assert len(rows) == 30
    assert {(r.seed, r.metric) for r in rows} == {(w, f"m{i}") for w in range(2) for i in range(15)}
