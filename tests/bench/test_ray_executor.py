"""executor=ray: one bench run's units as Ray tasks give the local executor's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rr_gym.bench import run_bench
from rr_gym.bench.ray_executor import unit_resources
from rr_gym.bench.results import ResultsTable
from rr_gym.errors import ConfigError

TINY = (
    "suite=smoke",
    "pair=[umaze]",
    "method=[discriminator,true_reward]",
    "stages=[datasets,rewards,evaluate]",
    "sizes.maze.data_steps=1500",
    "progress=false",
)


def _values(out: Path) -> dict[tuple[str, str, int, str], float]:
    rows = ResultsTable(out / "results.csv").read()
    return {r.key[1:]: r.value for r in rows if not r.metric.endswith("seconds")}


def test_ray_units_give_the_local_results(make_config, tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="the optional `distributed` extra is not installed")
    config: dict[str, Any] = make_config(*TINY)
    local = run_bench(config, out_dir=tmp_path / "local", cache_dir=tmp_path / "local-cache")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_bench(
            {**config, "executor": "ray"},
            out_dir=tmp_path / "ray",
            cache_dir=tmp_path / "ray-cache",
        )
        assert ray.is_initialized()  # a caller's Ray is left running
    finally:
        ray.shutdown()
    expected, got = _values(local.out_dir), _values(remote.out_dir)
    assert expected and set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    built = remote.timings
    assert all(t.built > 0 and t.cached == 0 for t in built.values()), built


def test_gpu_stages_ask_ray_for_a_gpu_on_cuda_only() -> None:
    for stage in ("diffusion", "rewards", "steering"):
        assert unit_resources(stage, 2, gpu=True) == {"num_cpus": 2.0, "num_gpus": 1.0}
        assert unit_resources(stage, 2, gpu=False)["num_gpus"] == 0.0
    assert unit_resources("datasets", 1, gpu=True) == {"num_cpus": 1.0, "num_gpus": 0.0}


def test_unknown_executor_is_refused_before_anything_runs(make_config, tmp_path: Path) -> None:
    config = {**make_config(*TINY), "executor": "slurm"}
    with pytest.raises(ConfigError, match="executor=slurm; expected local"):
        run_bench(config, out_dir=tmp_path / "out")
