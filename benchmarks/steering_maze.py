"""Steering on PointMaze (issue 5): does the extracted reward guide the base model to the goal?

For each seed: generate (or reuse) the base data (random goals) and the expert data of one
goal cell, train a base and an expert diffusion model on windows of them, extract the
relative reward, then plan with

- the base model unguided,
- the base model guided by the extracted reward (each scale of ``--scales``),
- the expert model unguided,

in a PointMaze env whose goal is that cell, and record the success rate (reaching the goal
within the episode) and decisions per second. Models are cached under ``--out`` so that a
rerun only re-evaluates.

Run (CPU, tiny):  ``python benchmarks/steering_maze.py --diffusion-steps 200 --reward-steps 200
--episodes 4 --seeds 0``; the recorded runs (benchmarks/RESULTS.md) used the defaults.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import gymnasium_robotics
import numpy as np

import rr_gym
from rr_gym.bench.steering import run_condition, steering_conditions
from rr_gym.data import generate_pointmaze, make_windows
from rr_gym.data.maze import GOAL_CELLS, make_goal_env
from rr_gym.normalizer import Normalizer
from rr_gym.utils.device import resolve_device

gym.register_envs(gymnasium_robotics)
logger = logging.getLogger("steering_maze")


def dataset(maze: str, goal: int | None, steps: int, seed: int, on_arrival: str = "restart") -> str:
    """Id of the base (goal None) or goal dataset, generated when missing; ``on_arrival``
    is the goal data's behaviour at the goal (``generate_pointmaze``)."""
    name = "base" if goal is None else f"goal{goal}"
    if goal is not None and on_arrival != "restart":
        name += f"-{on_arrival}"
    dataset_id = f"rr_gym/pointmaze-{maze}-{name}-s{steps}-seed{seed}-v0"
    try:
        rr_gym.data.load_dataset(dataset_id, download=False)
    except rr_gym.errors.DatasetNotFoundError:
        options = {} if goal is None else {"on_arrival": on_arrival}
        generate_pointmaze(
            maze, steps=steps, seed=seed, goal=goal, dataset_id=dataset_id, **options
        )
    return dataset_id


def _cached(path: Path, device: str, build: Callable[[], Any]) -> Any:
    """Load the checkpoint at ``path``, or build the model, save it there and return it."""
    if (path / "config.json").exists():
        return rr_gym.load(path, device=device)
    tick = time.perf_counter()
    model = build()
    model.save(path)
    logger.info("%s trained in %.0f s", path, time.perf_counter() - tick)
    return model


def train_models(args: argparse.Namespace, seed: int, out: Path) -> tuple[Any, Any, Any]:
    """Base and expert diffusion models and the extracted reward (None when no guided
    condition is asked for), each cached in ``out``."""
    base_w = make_windows(dataset(args.maze, None, args.data_steps, seed), horizon=args.horizon)
    goal_w = make_windows(
        dataset(args.maze, args.goal, args.data_steps, seed, args.on_arrival),
        horizon=args.horizon,
    )
    norm = Normalizer.fit(
        np.concatenate([base_w.windows, goal_w.windows]).reshape(-1, base_w.layout.dim)
    )
    common = dict(
        horizon=args.horizon,
        steps=args.diffusion_steps,
        seed=seed,
        device=args.device,
        normalizer=norm,
        n_diffusion_steps=args.n_diffusion_steps,
        denoiser=args.denoiser,
        network=json.loads(args.network),
        batch_size=args.batch_size,
        lr=2e-4,
        action_weight=args.action_weight,
    )
    root = out / f"seed{seed}"
    expert_dir = "expert" if args.on_arrival == "restart" else f"expert-{args.on_arrival}"
    base = _cached(root / "base", args.device, lambda: rr_gym.train_diffusion(base_w, **common))
    expert = _cached(
        root / expert_dir, args.device, lambda: rr_gym.train_diffusion(goal_w, **common)
    )
    if "guided" not in args.conditions.split(","):
        return base, expert, None
    k = args.transitions_per_window
    reward = _cached(
        root / (expert_dir.replace("expert", "reward") + ("" if k is None else f"-k{k}")),
        args.device,
        lambda: rr_gym.extract_reward(
            base,
            expert,
            np.concatenate([base_w.windows, goal_w.windows]),
            steps=args.reward_steps,
            batch_size=args.reward_batch_size,
            **({} if k is None else {"transitions_per_window": k}),
            seed=seed,
            device=args.device,
        ),
    )
    return base, expert, reward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maze", default="umaze")
    parser.add_argument("--goal", type=int, default=6)
    parser.add_argument("--data-steps", type=int, default=200_000)
    parser.add_argument("--horizon", type=int, default=32)
    parser.add_argument("--n-diffusion-steps", type=int, default=20)
    parser.add_argument("--diffusion-steps", type=int, default=5000)
    parser.add_argument("--reward-steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--reward-batch-size", type=int, default=64)
    parser.add_argument("--denoiser", choices=["mlp", "unet"], default="mlp")
    parser.add_argument(
        "--network", default='{"hidden_dim": 512, "depth": 3}', help="denoiser sizes (JSON)"
    )
    parser.add_argument("--scales", default="0.5,1,2,4")
    parser.add_argument("--t-stopgrad", type=int, default=0)
    parser.add_argument(
        "--action-weight", type=float, default=1.0, help="1: Diffuser's maze2d models"
    )
    parser.add_argument("--conditions", default="base,guided,expert")
    parser.add_argument("--replan-every", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--n-envs", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--on-arrival",
        choices=["restart", "stay"],
        default="restart",
        help="the goal data at the goal: end the episode, or stay there until the time limit",
    )
    parser.add_argument("--transitions-per-window", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("steering_out/maze"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cell = GOAL_CELLS[args.maze][args.goal]
    rows = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        base, expert, reward = train_models(args, seed, args.out)
        conditions = steering_conditions(
            base, expert, {"guided": reward}, scales=[float(s) for s in args.scales.split(",")]
        )
        for condition in conditions:
            name, scale = condition.name.split("@")[0], condition.scale
            if name not in args.conditions.split(","):
                continue
            stats = run_condition(
                condition,
                lambda: make_goal_env(args.maze, cell),
                episodes=args.episodes,
                n_envs=args.n_envs,
                seed=1000 * seed,
                t_stopgrad=args.t_stopgrad,
                replan_every=args.replan_every,
            )
            row = {"seed": seed, "condition": name, "scale": scale, **stats.summary()}
            rows.append(row)
            logger.info(
                "seed %d %-7s scale %-4g success %.2f return %.1f (%.0f decisions/s)",
                seed,
                name,
                scale,
                stats.success_rate,
                row["return_mean"],
                stats.decisions_per_s,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "rows": rows}, indent=2)
    )
    print(f"\n{args.maze} goal {args.goal} {cell}, device {resolve_device(args.device)}")
    print("| condition | scale | success (mean ± std over seeds) | return | decisions/s |")
    print("|---|---|---|---|---|")
    keys = sorted(
        {(r["condition"], r["scale"]) for r in rows},
        key=lambda k: (["base", "guided", "expert"].index(k[0]), k[1]),
    )
    for cond, scale in keys:
        group = [r for r in rows if (r["condition"], r["scale"]) == (cond, scale)]
        succ = np.array([r["success_rate"] for r in group])
        ret = np.mean([r["return_mean"] for r in group])
        dps = np.mean([r["decisions_per_s"] for r in group])
        print(
            f"| {cond} | {scale:g} | {succ.mean():.2f} ± {succ.std():.2f} | {ret:.1f} | {dps:.0f} |"
        )


if __name__ == "__main__":
    main()
