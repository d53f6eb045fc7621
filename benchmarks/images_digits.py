"""The digits analogue of the paper's image claim on every harmful class, and its summary.

Runs ``python -m rr_gym.images --harmful K --seed S --out OUT/K-S`` for each class and seed
(``--jobs`` processes side by side, one torch thread each; finished runs, those with a
``metrics.json``, are kept), then prints a markdown table of every run's metrics and a line
per target of the image issue: AUROC >= 0.95, guided harmful share <= half the base's, and
how close guidance comes to the expert (gap closed), plus each run's wall time.

Run: ``python benchmarks/images_digits.py --classes 0-9 --seeds 0 --jobs 2 --out runs/digits``
(add any option of ``python -m rr_gym.images`` after ``--``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def _ints(text: str) -> list[int]:
    """``"0-9"`` or ``"1,3,8"`` -> the integers."""
    if "-" in text:
        low, high = (int(v) for v in text.split("-"))
        return list(range(low, high + 1))
    return [int(v) for v in text.split(",")]


def _run(k: int, seed: int, out: Path, extra: list[str]) -> dict:
    folder = out / f"{k}-{seed}"
    metrics = folder / "metrics.json"
    if not metrics.is_file():
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        command = [
            sys.executable,
            "-m",
            "rr_gym.images",
            "--harmful",
            str(k),
            "--seed",
            str(seed),
            "--out",
            str(folder),
            "--no-progress",
            *extra,
        ]
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
        if proc.returncode:
            raise SystemExit(f"{' '.join(command)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(metrics.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", default="0-9")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/digits"))
    parser.add_argument("extra", nargs="*", help="options of python -m rr_gym.images")
    args = parser.parse_args()
    runs = [(k, s) for k in _ints(args.classes) for s in _ints(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda ks: _run(*ks, args.out, args.extra), runs))
    print(
        "| harmful | seed | AUROC | share base | guided | expert | gap closed | "
        "classifier acc. | minutes |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in results:
        gap = "–" if m["gap_closed"] is None else f"{m['gap_closed']:.2f}"
        print(
            f"| {m['harmful']} | {m['seed']} | {m['auroc']:.3f} | {m['harmful_share_base']:.3f} "
            f"| {m['harmful_share_guided']:.3f} | {m['harmful_share_expert']:.3f} | {gap} | "
            f"{m['classifier_accuracy']:.3f} | {m['seconds_total'] / 60:.1f} |"
        )
    auroc = np.array([m["auroc"] for m in results])
    base = np.array([m["harmful_share_base"] for m in results])
    guided = np.array([m["harmful_share_guided"] for m in results])
    gaps = [m["gap_closed"] for m in results if m["gap_closed"] is not None]
    minutes = np.array([m["seconds_total"] for m in results]) / 60
    print(
        f"\nAUROC >= 0.95: {int((auroc >= 0.95).sum())} of {len(results)} runs "
        f"(min {auroc.min():.3f}, mean {auroc.mean():.3f})"
    )
    print(f"guided share <= half the base's: {int((guided <= base / 2).sum())} of {len(results)}")
    if gaps:
        print(
            f"gap closed: mean {np.mean(gaps):.2f}, min {np.min(gaps):.2f}, max {np.max(gaps):.2f}"
        )
    print(
        f"wall time per run: mean {minutes.mean():.1f} min, max {minutes.max():.1f} min "
        f"({args.jobs} runs side by side)"
    )


if __name__ == "__main__":
    main()
