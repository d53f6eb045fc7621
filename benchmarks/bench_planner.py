"""Decisions per second of the diffusion planner (issue 5).

One *call* is one ``DiffusionPlanner.predict`` on a batch of observations (one plan per
environment, replanning every step): a full reverse diffusion chain with each current
state inpainted. A *decision* is one environment's action, so decisions/s = calls/s x batch,
as in :func:`rr_gym.envs.evaluate_policy`. Measured at the settings of the steering experiments:

- maze: PointMaze transitions (observation 4 + action 2), horizon 32, T = 20, MLP denoiser
  512 x 3 (``benchmarks/steering_maze.py`` and the bench's default sizes);
- hopper: Hopper-v5 transitions (observation 11 + action 3), same horizon, T and denoiser
  (``benchmarks/steering_hopper.py``);

for DDPM (all T steps) and DDIM (``--ddim-steps``), unguided and guided by a relative reward
of ``extract_reward``'s default size (MLP 256 x 3, gradient at x_t). Models are untrained
(the cost does not depend on the weights). The median of ``--repeat`` timed calls after
warm-up is reported as calls/s and decisions/s.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_planner.py [--device cuda] [--batches 1,8]
[--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from rr_gym.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.planning import DiffusionPlanner
from rr_gym.rewards import RelativeRewardModel

SETTINGS = {"maze": (4, 2), "hopper": (11, 3)}  # observation and action sizes
HORIZON, T = 32, 20


def build(setting: str, device: torch.device) -> tuple[GaussianDiffusion, RelativeRewardModel]:
    """An untrained base model and reward at ``setting``'s sizes."""
    obs, act = SETTINGS[setting]
    layout = TransitionLayout.from_sizes(observation=obs, action=act)
    norm = Normalizer.fit(np.random.default_rng(0).normal(size=(1000, layout.dim)))
    torch.manual_seed(0)
    denoiser = MLPDenoiser(HORIZON, layout.dim, hidden_dim=512, depth=3)
    diffusion = GaussianDiffusion(denoiser, NoiseSchedule(T), normalizer=norm, layout=layout)
    reward = RelativeRewardModel(layout, norm)
    return diffusion.to(device), reward.to(device)


def calls_per_s(planner: DiffusionPlanner, batch: int, obs_dim: int, repeat: int) -> float:
    """Median ``predict`` calls per second on random observations of ``batch`` envs."""
    obs = np.random.default_rng(0).normal(size=(batch, obs_dim)).astype(np.float32)
    cuda = planner.device.type == "cuda"
    for _ in range(3):
        planner.predict(obs)
    times = []
    for _ in range(repeat):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        planner.predict(obs)  # returns NumPy: the result is on the host, so synchronised
        times.append(time.perf_counter() - start)
    return 1.0 / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (CPU)")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--settings", default="maze,hopper")
    parser.add_argument("--ddim-steps", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    for setting in args.settings.split(","):
        diffusion, reward = build(setting, device)
        obs_dim = SETTINGS[setting][0]
        for sampler, n_steps in (("ddpm", None), ("ddim", args.ddim_steps)):
            for guided in (False, True):
                planner = DiffusionPlanner(
                    diffusion,
                    reward if guided else None,
                    scale=1.0,
                    sampler=sampler,  # type: ignore[arg-type]
                    n_steps=n_steps,
                )
                for batch in (int(b) for b in args.batches.split(",")):
                    rate = calls_per_s(planner, batch, obs_dim, args.repeat)
                    rows.append(
                        {
                            "setting": setting,
                            "sampler": f"{sampler} {n_steps or T}",
                            "guided": guided,
                            "batch": batch,
                            "calls_per_s": rate,
                            "decisions_per_s": rate * batch,
                        }
                    )
                    print(
                        f"{setting:6s} {sampler} {n_steps or T:3d} steps "
                        f"{'guided  ' if guided else 'unguided'} batch {batch:3d}: "
                        f"{rate:8.1f} calls/s, {rate * batch:9.1f} decisions/s",
                        flush=True,
                    )
    header = (
        f"{platform.processor() or platform.machine()}, device {device}, "
        f"torch threads {torch.get_num_threads()}, median of {args.repeat}"
    )
    print(header)
    print("| setting | sampler | guided | batch | calls/s | decisions/s |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['setting']} | {r['sampler']} | {'yes' if r['guided'] else 'no'} | "
            f"{r['batch']} | {r['calls_per_s']:.1f} | {r['decisions_per_s']:.1f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": header, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
