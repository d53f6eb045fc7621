"""Training wall time of the offline baselines at their default sizes, on local PointMaze data.

Data: ``rr_gym/pointmaze-umaze-base-v0`` and ``...-goal1-v0`` generated with 50,000 steps each
(seconds). Each baseline trains with its train function's defaults (networks, batch 256,
lr, EMA) for ``--steps`` steps on one torch thread; wall time and process CPU time of the
training loop are reported (the machine may be shared: CPU time is the steadier number).
GAIL and AIRL are timed by ``crosscheck_imitation.py`` (env interaction dominates there).

    python benchmarks/bench_baselines.py --steps 5000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

from rr_gym.baselines import train_bc, train_discriminator, train_noised_discriminator
from rr_gym.data import generate_pointmaze, make_transitions, make_windows, pointmaze_dataset_id
from rr_gym.data.storage import minari_root_env
from rr_gym.diffusion import NoiseSchedule


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--data-steps", type=int, default=50_000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root, minari_root_env(root):
        generate_pointmaze("umaze", steps=args.data_steps, seed=0, progress=False)
        generate_pointmaze("umaze", goal=1, steps=args.data_steps, seed=0, progress=False)
        base_id = pointmaze_dataset_id("umaze")
        goal_id = pointmaze_dataset_id("umaze", goal=1)
        base, expert = (
            make_transitions(base_id, progress=False),
            make_transitions(goal_id, progress=False),
        )
        base32 = make_windows(base_id, horizon=32, stride=4, progress=False)
        expert32 = make_windows(goal_id, horizon=32, stride=4, progress=False)
    n = args.steps
    common = {"steps": n, "device": "cpu", "progress": False}
    runs: dict[str, Callable[[], Any]] = {
        "discriminator (H=1, MLP 256x256)": lambda: train_discriminator(base, expert, **common),
        "noised discriminator (H=1, T=100)": lambda: train_noised_discriminator(
            base, expert, schedule=NoiseSchedule(100), **common
        ),
        "noised discriminator (H=32, window 1, T=20)": lambda: train_noised_discriminator(
            base32, expert32, schedule=NoiseSchedule(20), batch_size=32, **common
        ),
        "BC (MLP 256x256, MSE)": lambda: train_bc(expert, **common),
    }
    print("| baseline | steps | batch | wall s | CPU s | steps/s (wall) |")
    print("|---|---|---|---|---|---|")
    for name, run in runs.items():
        result, wall, cpu = timed(run)
        batch = 32 if "H=32" in name else 256
        print(f"| {name} | {n:,} | {batch} | {wall:.1f} | {cpu:.1f} | {n / wall:.0f} |", flush=True)
        del result
    print(
        f"\nbase transitions {len(base):,}, expert transitions {len(expert):,}; "
        f"H=32 windows: base {len(base32):,}, expert {len(expert32):,}"
    )


if __name__ == "__main__":
    main()
