"""Benchmark of rr_gym.data: generation throughput, Hopper build time, window loading.

Measures, on this machine, from scratch (nothing cached):

1. PointMaze generation: a ``--maze-steps`` (default 1M) step dataset, steps/s;
2. window loading from that dataset: ``make_windows`` windows/s for a few (H, stride);
3. Hopper: ``generate_locomotion`` at the default budget (PPO ``--train-steps``, every
   level), total time, PPO steps/s, collection steps/s, returns.

Everything is written under ``--root`` (a Minari root; default /tmp/rr_gym_bench_data),
which is wiped first. Results are printed as Markdown and saved as JSON.

Usage::

    python benchmarks/bench_data.py                      # everything, defaults
    python benchmarks/bench_data.py --skip-locomotion    # PointMaze and windows only
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def bench_pointmaze(maze: str, steps: int, seed: int) -> dict[str, Any]:
    """Generate a base dataset of ``steps`` steps; return its id and throughput."""
    from rr_gym.data import generate_pointmaze

    t0 = time.perf_counter()
    result = generate_pointmaze(maze, steps=steps, seed=seed, progress=False, overwrite=True)
    seconds = time.perf_counter() - t0
    return {
        "dataset_id": result.dataset_id,
        "steps": result.total_steps,
        "episodes": result.total_episodes,
        "seconds": round(seconds, 2),
        "steps_per_s": round(result.total_steps / seconds),
        "size_mb": round(
            sum(p.stat().st_size for p in result.path.rglob("*") if p.is_file()) / 1e6, 1
        ),
    }


def bench_windows(dataset_id: str, settings: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """``make_windows`` on ``dataset_id`` for each ``(horizon, stride)``."""
    from rr_gym.data import load_dataset, make_windows

    rows = []
    dataset = load_dataset(dataset_id, download=False)
    for horizon, stride in settings:
        t0 = time.perf_counter()
        data = make_windows(dataset, horizon=horizon, stride=stride, progress=False)
        seconds = time.perf_counter() - t0
        rows.append(
            {
                "horizon": horizon,
                "stride": stride,
                "windows": len(data),
                "seconds": round(seconds, 2),
                "windows_per_s": round(len(data) / seconds),
                "array_mb": round(data.windows.nbytes / 1e6),
            }
        )
        del data
    return rows


def bench_locomotion(env: str, train_steps: int, steps_per_level: int, seed: int) -> dict[str, Any]:
    """Build every locomotion level of ``env`` from scratch."""
    from rr_gym.data import generate_locomotion

    result = generate_locomotion(
        env,
        train_steps=train_steps,
        steps_per_level=steps_per_level,
        seed=seed,
        overwrite=True,
        progress=False,
    )
    levels = {
        lv: {
            "dataset_id": r.dataset_id,
            "steps": r.total_steps,
            "episodes": r.total_episodes,
            "mean_return": round(r.mean_return, 1),
            "seconds": round(r.seconds, 1),
            "steps_per_s": round(r.total_steps / r.seconds),
        }
        for lv, r in result.datasets.items()
    }
    return {
        "env": env,
        "train_steps": result.training_steps,
        "train_seconds": round(result.training_seconds, 1),
        "ppo_steps_per_s": round(result.training_steps / result.training_seconds)
        if result.training_seconds
        else None,
        "policy_eval_returns": {k: round(v, 1) for k, v in result.policy_returns.items()},
        "total_seconds": round(result.seconds, 1),
        "levels": levels,
    }


def _markdown(res: dict[str, Any]) -> str:
    lines = [f"Machine: {res['machine']}; date {res['date']}; command `{res['command']}`", ""]
    pm = res.get("pointmaze")
    if pm:
        lines += [
            "| PointMaze generation | steps | episodes | seconds | steps/s | MB |",
            "|---|---|---|---|---|---|",
            f"| {pm['dataset_id']} | {pm['steps']:,} | {pm['episodes']:,} | "
            f"{pm['seconds']} | {pm['steps_per_s']:,} | {pm['size_mb']} |",
            "",
        ]
    if res.get("windows"):
        lines += [
            "| make_windows (1M-step PointMaze) | H | stride | windows | seconds | "
            "windows/s | array MB |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| | {w['horizon']} | {w['stride']} | {w['windows']:,} | {w['seconds']} | "
            f"{w['windows_per_s']:,} | {w['array_mb']} |"
            for w in res["windows"]
        ]
        lines.append("")
    lo = res.get("locomotion")
    if lo:
        lines += [
            f"Hopper from scratch: {lo['total_seconds']} s total; PPO {lo['train_steps']:,}"
            f" steps in {lo['train_seconds']} s ({lo['ppo_steps_per_s']} steps/s); "
            f"policy eval returns {lo['policy_eval_returns']}",
            "",
            "| level | steps | episodes | mean return | seconds | steps/s |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {lv} | {d['steps']:,} | {d['episodes']:,} | {d['mean_return']} | "
            f"{d['seconds']} | {d['steps_per_s']:,} |"
            for lv, d in lo["levels"].items()
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/tmp/rr_gym_bench_data")
    parser.add_argument("--maze", default="umaze")
    parser.add_argument("--maze-steps", type=int, default=1_000_000)
    parser.add_argument("--train-steps", type=int, default=300_000)
    parser.add_argument("--steps-per-level", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-pointmaze", action="store_true")
    parser.add_argument("--skip-locomotion", action="store_true")
    parser.add_argument("--out", default=None, help="JSON output (default <root>/results.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    root = Path(args.root)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    res: dict[str, Any] = {
        "machine": f"{_cpu_model()}, {os.cpu_count()} CPUs",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": " ".join(["python", "benchmarks/bench_data.py", *(argv or sys.argv[1:])]),
    }
    if not args.skip_pointmaze:
        res["pointmaze"] = bench_pointmaze(args.maze, args.maze_steps, args.seed)
        res["windows"] = bench_windows(res["pointmaze"]["dataset_id"], [(1, 1), (32, 1), (256, 16)])
    if not args.skip_locomotion:
        res["locomotion"] = bench_locomotion(
            "hopper", args.train_steps, args.steps_per_level, args.seed
        )
    out = Path(args.out) if args.out else root / "results.json"
    out.write_text(json.dumps(res, indent=2))
    print(_markdown(res))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
