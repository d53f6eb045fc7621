"""Does a planner act like its data? First actions against a known state-feedback policy.

Trajectories of a double integrator driven by ``a = -K s + 0.05 noise`` (64 episodes of 40
steps, 2-D state, 1-D action; :mod:`rr_gym.planning.feedback`) are cut into windows of 8;
a diffusion model (T = 20) is trained on them and a
:class:`~rr_gym.planning.DiffusionPlanner` is asked for the first action at 256 random
states. R^2 of those actions against the policy's own ``-K s`` (1 = the planner is the
policy). The test suite checks the defaults on the same system
(``tests/planning/test_planner.py``); this script compares the training options.

Run: ``OMP_NUM_THREADS=1 python benchmarks/planner_feedback.py [--steps 1000]``.
"""

from __future__ import annotations

import argparse
import time

import torch

import rr_gym
from rr_gym.planning.feedback import feedback_windows, first_action_r2

#: name -> train_diffusion options; the first row is the library's defaults.
VARIANTS: dict[str, dict[str, object]] = {
    "defaults (x0, state imposed in training, action weight 10)": {},
    "x0, nothing imposed in training": {"condition_field": None, "action_weight": 1.0},
    "epsilon, nothing imposed (the former defaults)": {
        "predict_epsilon": True,
        "condition_field": None,
        "action_weight": 1.0,
    },
    "epsilon, clip 5, nothing imposed": {
        "predict_epsilon": True,
        "condition_field": None,
        "action_weight": 1.0,
        "clip_denoised": 5.0,
    },
    "epsilon, state imposed in training": {"predict_epsilon": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--denoiser", choices=["mlp", "unet"], default="mlp")
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = feedback_windows(horizon=8)
    mlp, unet = {"hidden_dim": 128, "depth": 2}, {"dim": 16, "dim_mults": (1, 2)}
    network = mlp if args.denoiser == "mlp" else unet
    print(f"| training ({args.denoiser}, {args.steps} steps, T = 20) | R^2 | train s |")
    print("|---|---:|---:|")
    for name, options in VARIANTS.items():
        tick = time.perf_counter()
        model = rr_gym.train_diffusion(
            data,
            horizon=8,
            steps=args.steps,
            n_diffusion_steps=20,
            denoiser=args.denoiser,
            network=network,
            device="cpu",
            progress=False,
            **options,  # type: ignore[arg-type]
        )
        seconds = time.perf_counter() - tick
        print(f"| {name} | {first_action_r2(model):.3f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
