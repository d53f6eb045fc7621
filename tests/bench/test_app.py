"""``python -m rr_gym.bench`` end to end: the smoke suite, a rerun from the cache, and
multirun sweeps through the joblib and Ray launchers (subprocesses, as a user runs them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rr_gym.bench.results import ResultsTable

pytestmark = pytest.mark.slow

METHODS = (
    "relative_reward",
    "discriminator",
    "noised_discriminator",
    "gail",
    "airl",
    "bc",
    "true_reward",
)


def _bench(*args: str, cwd: Path, timeout: int = 400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "rr_gym.bench", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


def test_smoke_suite_end_to_end_then_rerun_from_cache(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _bench("suite=smoke", f"hydra.run.dir={out}", "progress=false", cwd=tmp_path)
    assert "retrain IQM" in proc.stdout  # the printed summary table
    rows = ResultsTable(out / "results.csv").read()
    got = {(r.pair, r.method, r.metric) for r in rows}
    pairs = ("umaze-goal6", "hopper-medium-expert")
    for pair in pairs:
        for method in METHODS:
            assert (pair, method, "retrain/ppo/normalized_return") in got, (pair, method)
            assert (pair, method, "fit_seconds") in got
            if method != "bc":
                for metric in ("pearson", "spearman", "epic", "lr_accuracy"):
                    assert (pair, method, metric) in got, (pair, method, metric)
    for method in set(METHODS) - {"bc"}:
        assert ("umaze-goal6", method, "argmax_at_goal") in got
    for condition in ("base", "relative_reward@1", "expert"):
        assert ("umaze-goal6", f"steer/{condition}", "success_rate") in got
    for metric in ("auroc", "harmful_share_base", "harmful_share_guided", "harmful_share_expert"):
        assert ("digits-harmful3", "relative_reward", metric) in got, metric
    assert all(r.suite == "smoke" and r.seed == 0 for r in rows)
    report = (out / "report.md").read_text()
    for figure in (
        "heatmaps_umaze.png",
        "returns.png",
        "scatter.png",
        "steering.png",
        "images_harmful_share.png",
        "images_digits-harmful3_heldout.png",
    ):
        assert (out / "figures" / figure).stat().st_size > 1000
        assert f"figures/{figure}" in report
    assert "## Wall time per stage" in report
    # the Claims section comes first; one seed gives no interval, so no claim holds
    assert report.index("## Claims") < report.index("## Maze")
    assert "(a) the relative reward peaks at the goal" in report
    assert "(d) the relative reward ranks harmful images lower" in report
    assert "## Images: does the reward rank harmful images lower?" in report
    assert "## Data: what base and expert are" in report and "| generated |" in report
    assert "**holds**" not in report and "**not significant**" in report
    assert json.loads((out / "config.json").read_text())["suite"]["name"] == "smoke"
    assert (out / ".hydra" / "config.yaml").is_file()

    # A rerun builds nothing and writes the same rows (no duplicates).
    _bench(
        "suite=smoke",
        f"hydra.run.dir={out}",
        "progress=false",
        "stages=[datasets,diffusion,rewards,evaluate,retrain,steering,images]",
        cwd=tmp_path,
    )
    timings = json.loads((out / "timings.json").read_text())
    assert all(t["built"] == 0 and t["cached"] > 0 for t in timings.values()), timings
    again = ResultsTable(out / "results.csv").read()
    assert len(again) == len(rows)
    assert {r.key: r.value for r in again} == {r.key: r.value for r in rows}


SWEEP = (
    "suite=smoke",
    "pair=[umaze]",
    "method=[discriminator]",
    "stages=[datasets,rewards]",
    "sizes.maze.data_steps=1200",
    "progress=false",
    "seeds=[0],[1]",
)


def _check_sweep(sweep: Path) -> None:
    for job in ("0", "1"):
        rows = ResultsTable(sweep / job / "results.csv").read()
        assert {(r.method, r.metric, r.seed) for r in rows} == {
            ("discriminator", "fit_seconds", int(job))
        }
    datasets = [p for p in (sweep / "cache" / "datasets").iterdir() if (p / "DONE").is_file()]
    assert len(datasets) == 2  # base and goal data, built once and shared by both jobs


def test_joblib_multirun(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    _bench(
        "-m",
        *SWEEP,
        "hydra/launcher=joblib",
        "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    _check_sweep(sweep)


def test_ray_multirun(tmp_path: Path) -> None:
    pytest.importorskip("ray", reason="the optional `distributed` extra (ray) is not installed")
    pytest.importorskip(
        "hydra_plugins.hydra_ray_launcher",
        reason="the optional `distributed` extra (hydra-ray-launcher) is not installed",
    )
    sweep = tmp_path / "sweep"
    _bench(
        "-m",
        *SWEEP,
        "hydra/launcher=ray",
        "+hydra.launcher.ray.init.num_cpus=2",
        "+hydra.launcher.ray.init.include_dashboard=false",
        f"hydra.sweep.dir={sweep}",
        cwd=tmp_path,
    )
    _check_sweep(sweep)


def test_sizes_methods_fits_only_the_named_methods_on_a_pair(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = _bench(
        "suite=smoke",
        "pair=[umaze]",
        "method=[discriminator,bc]",
        "stages=[datasets,rewards,evaluate]",
        "sizes.maze.data_steps=1200",
        "progress=false",
        "+sizes.methods=[discriminator,discriminatr]",
        f"hydra.run.dir={out}",
        cwd=tmp_path,
    )
    rows = ResultsTable(out / "results.csv").read()
    assert {r.method for r in rows} == {"discriminator"}
    assert {r.metric for r in rows} >= {"fit_seconds", "pearson"}
    assert "['discriminatr'], which are not bench methods" in proc.stdout + proc.stderr
