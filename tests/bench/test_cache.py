"""Stage cache: keys, hits and misses, and resuming after an interrupted build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rr_gym.bench.cache import BuildContext, StageCache, canonical_json, config_hash
from rr_gym.errors import ConfigError


def test_key_depends_on_stage_config_and_inputs() -> None:
    key = config_hash("rewards", {"a": 1, "b": [1, 2]}, ["x"])
    assert key == config_hash("rewards", {"b": (1, 2), "a": 1}, ["x"])  # canonical order
    assert key != config_hash("rewards", {"a": 2, "b": [1, 2]}, ["x"])
    assert key != config_hash("rewards", {"a": 1, "b": [1, 2]}, ["y"])
    assert key != config_hash("evaluate", {"a": 1, "b": [1, 2]}, ["x"])


def test_canonical_json_refuses_objects() -> None:
    assert canonical_json({"p": Path("a/b"), "n": None}) == '{"n":null,"p":"a/b"}'
    with pytest.raises(ConfigError, match="plain data"):
        canonical_json({"x": object()})


def test_miss_then_hit(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    calls = []

    def build(ctx: BuildContext) -> str:
        calls.append(ctx.key)
        (ctx.path / "out.txt").write_text("done")
        return "value"

    first = cache.run("stage", {"n": 1}, build, inputs=["k0"])
    second = cache.run("stage", {"n": 1}, build, inputs=["k0"])
    third = cache.run("stage", {"n": 2}, build, inputs=["k0"])
    assert (first.hit, second.hit, third.hit) == (False, True, False)
    assert first.value == "value" and second.value is None
    assert len(calls) == 2
    assert (second.path / "out.txt").read_text() == "done"
    manifest = second.manifest()
    assert manifest["config"] == {"n": 1} and manifest["inputs"] == ["k0"]
    assert second.seconds == pytest.approx(manifest["seconds"])
    assert cache.get("stage", first.key) == first.path
    assert cache.get("stage", "0" * 16) is None


def test_interrupted_build_leaves_nothing_and_resumes(tmp_path: Path) -> None:
    cache = StageCache(tmp_path)
    steps_done: list[int] = []

    def build(ctx: BuildContext, fail_at: int | None) -> None:
        progress = ctx.work_dir / "progress.json"
        start = json.loads(progress.read_text())["step"] if progress.exists() else 0
        for step in range(start, 10):
            if step == fail_at:
                raise KeyboardInterrupt  # like Ctrl-C in the middle of training
            steps_done.append(step)
            progress.write_text(json.dumps({"step": step + 1}))
        (ctx.path / "model.txt").write_text("trained")

    with pytest.raises(KeyboardInterrupt):
        cache.run("train", {"steps": 10}, lambda ctx: build(ctx, fail_at=6))
    key = config_hash("train", {"steps": 10})
    assert cache.get("train", key) is None
    assert not cache.path("train", key).exists()  # nothing half-written at the final path
    assert not [p for p in (tmp_path / "train").iterdir() if p.name.endswith(".tmp")]
    unit = cache.run("train", {"steps": 10}, lambda ctx: build(ctx, fail_at=None))
    assert not unit.hit
    assert steps_done == list(range(10))  # resumed at step 6, nothing repeated or lost
    assert (unit.path / "model.txt").read_text() == "trained"
    assert not (tmp_path / "train" / f"{key}.work").exists()  # checkpoints cleaned up
    assert cache.run("train", {"steps": 10}, lambda ctx: build(ctx, fail_at=0)).hit
