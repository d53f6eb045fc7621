"""Speed of reward extraction against diffusion training, at equal batch (issue 13).

Throughput (always): Hopper-sized models (MLP denoisers 512 x 3 over windows of 32
transitions of 11 + 3, T = 20, batch 256 windows, untrained weights): diffusion training
steps/s, and gradient-matching steps/s of the default window-1 reward (MLP 256 x 3) matching
its gradient at ``k`` random transitions of each window, for each ``k`` of
``--transitions``; the ratio to diffusion training is the issue's target (>= 0.5).

Quality (``--models DIR``): with the trained base and expert models that
``benchmarks/steering_hopper.py`` cached in ``DIR`` (``DIR/base``, ``DIR/expert``), train a
reward per ``k`` for ``--steps`` and record, every ``--eval-every`` steps, the wall time and
the trainer's full-window matching loss (score target, every transition) on one fixed batch
of noised windows drawn from both datasets, so that ``k`` is judged by the objective it
estimates, per second of training.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_extraction.py [--models DIR] [--json out]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch
from bench_core import timed, trainer_step  # the script's folder is on sys.path

import rr_gym
from rr_gym.data import make_windows
from rr_gym.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule
from rr_gym.diffusion.training import DiffusionTrainer
from rr_gym.layout import TransitionLayout
from rr_gym.rewards import GradientMatchingTrainer, RelativeRewardModel
from rr_gym.trainer import TrainConfig

HORIZON, BATCH, T = 32, 256, 20
CPU = torch.device("cpu")


def _steps_per_s(trainer: DiffusionTrainer | GradientMatchingTrainer, repeat: int) -> float:
    """Median steps/s of ``trainer`` over ``repeat`` steps after 3 warm-up steps."""
    return 1.0 / timed(trainer_step(trainer), 3, repeat, CPU)


def _matcher(
    reward: RelativeRewardModel,
    base: GaussianDiffusion,
    expert: GaussianDiffusion,
    data: torch.Tensor,
    k: int | None,
    steps: int = 0,
    seed: int = 0,
) -> GradientMatchingTrainer:
    config = TrainConfig(steps=steps, batch_size=BATCH, lr=1e-3, seed=seed, progress=False)
    return GradientMatchingTrainer(
        reward, base, expert, data, config, CPU, transitions_per_window=k
    )


def throughput(transitions: list[int | None], repeat: int) -> dict[str, float]:
    torch.manual_seed(0)
    layout = TransitionLayout.from_sizes(observation=11, action=3)
    schedule = NoiseSchedule(T)
    base, expert = (
        GaussianDiffusion(MLPDenoiser(HORIZON, layout.dim, 512, 3), schedule, layout=layout)
        for _ in range(2)
    )
    data = torch.randn(4096, HORIZON, layout.dim)
    config = TrainConfig(steps=0, batch_size=BATCH, progress=False)
    results = {"diffusion": _steps_per_s(DiffusionTrainer(base, data, config, CPU), repeat)}
    base.eval().requires_grad_(False)
    for k in transitions:
        trainer = _matcher(RelativeRewardModel(layout), base, expert, data, k)
        results[f"k={k or HORIZON}"] = _steps_per_s(trainer, repeat)
    return results


def quality(
    models: str,
    base_id: str,
    expert_id: str,
    transitions: list[int | None],
    steps: int,
    eval_every: int,
    seed: int,
) -> dict[str, list[tuple[int, float, float]]]:
    base, expert = rr_gym.load(f"{models}/base"), rr_gym.load(f"{models}/expert")
    windows = np.concatenate(
        [make_windows(i, horizon=base.horizon).windows for i in (base_id, expert_id)]
    )
    data = torch.as_tensor(base.normalizer.normalize(windows), dtype=torch.float32)
    rows = torch.randperm(len(data), generator=torch.Generator().manual_seed(1234))[:2048]
    judge_reward = RelativeRewardModel(base.layout, base.normalizer)
    judge = _matcher(judge_reward, base, expert, data, None)
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for k in transitions:
        torch.manual_seed(seed)
        reward = RelativeRewardModel(base.layout, base.normalizer)
        trainer = _matcher(reward, base, expert, data, k, seed=seed)
        curve, spent = [], 0.0
        for stop in range(eval_every, steps + 1, eval_every):
            trainer.config.steps = stop
            start = time.perf_counter()
            trainer.fit()
            spent += time.perf_counter() - start
            judge_reward.load_state_dict(trainer.model().state_dict())
            judge.generator.manual_seed(0)  # the same x_t and t at every evaluation
            _, info = judge.compute_loss(data[rows])
            curve.append((stop, spent, float(info["match"])))
            print(f"k={k or base.horizon} step {stop}: {spent:.0f} s, match {curve[-1][2]:.4f}")
        curves[f"k={k or base.horizon}"] = curve
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", default="32,16,8,4", help="k values; 32 = all")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--models", default=None)
    parser.add_argument("--base", default="rr_gym/hopper-medium-replay-v0")
    parser.add_argument("--expert", default="rr_gym/hopper-expert-v0")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    transitions = [None if int(k) >= HORIZON else int(k) for k in args.transitions.split(",")]
    results: dict[str, object] = {
        "machine": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if args.models is None:
        speed = throughput(transitions, args.repeat)
        results["steps_per_s"] = speed
        for name, value in speed.items():
            print(f"{name:<10} {value:6.2f} steps/s  ratio {value / speed['diffusion']:.2f}")
    else:
        results["quality"] = quality(
            args.models,
            args.base,
            args.expert,
            transitions,
            args.steps,
            args.eval_every,
            args.seed,
        )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)


if __name__ == "__main__":
    main()
