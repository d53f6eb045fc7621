"""A corrupt cache unit (truncated rows, manifest or model) is reported with its folder and
the hint to delete it so that it is rebuilt; stale temporaries of dead processes are swept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rr_gym.bench.cache import BuildContext, StageCache
from rr_gym.bench.context import BenchRun, row, write_rows
from rr_gym.bench.results import ResultsTable
from rr_gym.errors import CheckpointError
from rr_gym.utils import io
from tests._factories import mlp_diffusion


def _run(tmp_path: Path) -> BenchRun:
    return BenchRun(
        suite="test",
        seeds=[0],
        pairs=[],
        methods={},
        agent={},
        cache=StageCache(tmp_path / "cache"),
        results=ResultsTable(tmp_path / "results.csv"),
        out_dir=tmp_path,
        progress=False,
    )


def _write_rows(ctx: BuildContext) -> None:
    write_rows(ctx.path, [row("pair", "method", 0, "metric", 1.0, 2.0)])


def test_truncated_rows_name_the_file_and_the_unit_to_delete(tmp_path: Path) -> None:
    run = _run(tmp_path)
    unit = run.cache.run("evaluate", {"n": 1}, _write_rows)
    run.emit(unit)  # intact: one row
    assert len(run.results.read()) == 1
    rows = unit.path / "rows.json"
    rows.write_bytes(rows.read_bytes()[:20])  # truncated
    with pytest.raises(CheckpointError) as info:
        run.emit(run.cache.run("evaluate", {"n": 1}, _write_rows))
    message = str(info.value)
    assert str(rows) in message and f"delete the cache unit folder {unit.path}" in message
    assert "rerun" in message


def test_truncated_manifest_names_the_unit_to_delete(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    unit = cache.run("evaluate", {"n": 1}, _write_rows)
    (unit.path / "manifest.json").write_text('{"stage": "eval')
    with pytest.raises(CheckpointError, match=r"manifest\.json") as info:
        cache.run("evaluate", {"n": 1}, _write_rows)
    assert f"delete the cache unit folder {unit.path}" in str(info.value)


def test_truncated_cached_model_names_the_unit_to_delete(tmp_path: Path) -> None:
    run = _run(tmp_path)
    unit = run.cache.run(
        "diffusion", {"n": 1}, lambda ctx: mlp_diffusion().save(ctx.path / "model")
    )
    assert run.load(unit.path / "model") is not None  # intact
    weights = unit.path / "model" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-7])
    with pytest.raises(CheckpointError) as info:
        _run(tmp_path).load(unit.path / "model")  # a new run: nothing loaded yet
    message = str(info.value)
    assert "weights.safetensors" in message  # the checkpoint's own diagnosis is kept
    assert f"cache unit {unit.path}: delete that folder" in message and "rerun" in message


def test_unit_of(tmp_path: Path) -> None:
    cache = StageCache(tmp_path / "cache")
    unit = cache.path("rewards", "0123456789abcdef")
    assert cache.unit_of(unit / "model" / "weights.safetensors") == unit
    assert cache.unit_of(unit) == unit
    assert cache.unit_of(tmp_path / "cache" / "rewards") is None
    assert cache.unit_of(tmp_path / "elsewhere" / "model") is None


def test_sweep_removes_only_dead_processes_temporaries(tmp_path: Path) -> None:
    dead = next(p for p in range(999_999, 900_000, -1) if not _alive(p))
    cache = StageCache(tmp_path)
    stale = tmp_path / "rewards" / f".0123456789abcdef.{dead}@{io._HOST}.abc.tmp"
    stale.mkdir(parents=True)
    other_host = tmp_path / "rewards" / f".0123456789abcdef.{dead}@elsewhere.abc.tmp"
    other_host.mkdir()
    assert cache.remove_stale_temporaries() == [stale]
    assert not stale.exists() and other_host.is_dir()
    assert StageCache(tmp_path / "missing").remove_stale_temporaries() == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
