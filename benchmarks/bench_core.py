"""Throughput of the core on this machine (issue 2).

Measures, at fixed sizes (temporal U-Net ~1M parameters, horizon 32, transition dim 6,
batch 64, T = 100 diffusion steps):

- diffusion training steps/s (forward + backward + AdamW + EMA),
- gradient-matching steps/s (two frozen U-Net forwards + reward double backward), for each
  evaluation point, and its ratio to the diffusion throughput (target >= 0.5),
- sampling time per batch of 64 for DDPM (100 steps) and DDIM (20 and 10 steps).

Run: ``python benchmarks/bench_core.py [--device cpu] [--threads 2] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import torch

from rr_gym.diffusion import GaussianDiffusion, NoiseSchedule, TemporalUnet
from rr_gym.diffusion.training import DiffusionTrainer
from rr_gym.layout import TransitionLayout
from rr_gym.rewards import GradientMatchingTrainer, RelativeRewardModel
from rr_gym.trainer import TrainConfig

HORIZON, DIM, BATCH, T = 32, 6, 64, 100


def timed(fn: Callable[[], object], warmup: int, repeat: int, device: torch.device) -> float:
    """Median seconds per call of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def trainer_step(trainer: DiffusionTrainer | GradientMatchingTrainer) -> Callable[[], None]:
    """One optimisation step of ``trainer`` (the body of ``Trainer.fit``)."""

    def step() -> None:
        trainer.config.steps = trainer.step + 1
        trainer.fit()

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    schedule = NoiseSchedule(T)
    layout = TransitionLayout.from_sizes(observation=4, action=2)
    base = GaussianDiffusion(TemporalUnet(HORIZON, DIM), schedule, layout=layout).to(device)
    expert = GaussianDiffusion(TemporalUnet(HORIZON, DIM), schedule, layout=layout).to(device)
    n_params = sum(p.numel() for p in base.model.parameters())
    data = torch.randn(4096, HORIZON, DIM)
    cfg = dict(batch_size=BATCH, progress=False, log_every=10**9)
    results: dict[str, object] = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "unet_params": n_params,
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
    }

    diff_trainer = DiffusionTrainer(base, data, TrainConfig(steps=0, **cfg), device)
    sec = timed(trainer_step(diff_trainer), 5, args.repeat, device)
    results["diffusion_train_steps_per_s"] = 1 / sec
    base.eval().requires_grad_(False)

    for eval_at in ("posterior_mean", "x_t"):
        for target in ("posterior_mean", "score"):
            reward = RelativeRewardModel(layout)
            gm = GradientMatchingTrainer(
                reward,
                base,
                expert,
                data,
                TrainConfig(steps=0, lr=1e-3, **cfg),
                device,
                eval_at=eval_at,
                target=target,
            )
            sec = timed(trainer_step(gm), 5, args.repeat, device)
            key = f"gm_{target}_at_{eval_at}"
            results[f"{key}_steps_per_s"] = 1 / sec
            results[f"{key}_ratio"] = (1 / sec) / results["diffusion_train_steps_per_s"]

    for name, sampler, n in (
        ("ddpm_100", "ddpm", None),
        ("ddim_20", "ddim", 20),
        ("ddim_10", "ddim", 10),
    ):
        sec = timed(lambda s=sampler, k=n: base.sample(BATCH, sampler=s, n_steps=k), 1, 5, device)
        results[f"sample_{name}_s_per_batch{BATCH}"] = sec

    width = max(map(len, results))
    for key, value in results.items():
        shown = f"{value:.4g}" if isinstance(value, float) else value
        print(f"{key:<{width}}  {shown}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
