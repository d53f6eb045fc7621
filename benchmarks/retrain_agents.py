"""Which agent learns the true reward within the bench's budget (issue 14, item 1)?

Trains SB3 agents on the task's own reward of a bench pair (the retrain stage's
``true_reward`` row: the env's reward on Hopper, the sparse PointMaze reward through
:class:`rr_gym.wrappers.VecRelativeReward` on the mazes) and records, for each config and
seed, the deterministic policy's normalised return at checkpoints (``--eval-every``) and the
seconds per agent. The retrain stage's ranking of learned rewards means something only when
this agent clears the suite's ``learning_bar``.

Run (one config, one seed, a few minutes)::

    python benchmarks/retrain_agents.py --pair hopper --configs ppo_obsnorm --seeds 0

The recorded runs (benchmarks/RESULTS.md, "Retraining on Hopper") ran two processes side by
side on the 2 cores, ``OMP_NUM_THREADS=1``, one config x seed list each.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from rr_gym.bench.pairs import PairSpec, expand_pairs
from rr_gym.bench.retrain import ArrayPolicy, evaluate_returns, reward_venv, train_agent

_NORM = {"norm_obs": True, "norm_reward": True}
_OBS_NORM = {"norm_obs": True, "norm_reward": False}


def _ppo(n_envs: int, n_steps: int, batch: int, lr: float = 3e-4, norm: Any = None) -> dict:
    kwargs = {"n_steps": n_steps, "batch_size": batch, "learning_rate": lr}
    return {"algo": "ppo", "n_envs": n_envs, "kwargs": kwargs, "vec_normalize": norm}


#: Agent configs: ``algo``, ``n_envs``, SB3 keyword arguments and ``vec_normalize`` (the
#: retrain stage's ``sizes.retrain.vec_normalize``: SB3 ``VecNormalize`` options).
CONFIGS: dict[str, dict[str, Any]] = {
    "ppo": _ppo(4, 512, 64),  # Hopper in the claims suite before: SB3's PPO defaults, 4 envs
    "ppo_obsnorm": _ppo(4, 512, 64, norm=_OBS_NORM),
    "ppo_norm": _ppo(4, 512, 64, norm=_NORM),
    "ppo_norm_b128": _ppo(4, 512, 128, norm=_NORM),
    "ppo_norm_b256": _ppo(4, 512, 256, norm=_NORM),  # Hopper in the claims suite now
    "ppo_norm_b256_lr6e-4": _ppo(4, 512, 256, lr=6e-4, norm=_NORM),
    "ppo_maze": _ppo(16, 128, 256, lr=1e-3),  # the maze agents (agent=ppo, n_envs 16)
    "ppo_maze_obsnorm": _ppo(16, 128, 256, lr=1e-3, norm=_OBS_NORM),
    "sac": {"algo": "sac", "n_envs": 1, "kwargs": {"learning_starts": 5000}},
}


def make_pair(name: str) -> PairSpec:
    """The bench's pair ``hopper`` or ``<maze>-goal<k>`` (its datasets are not built)."""
    if name == "hopper":
        return expand_pairs({"hopper": {"kind": "locomotion", "env": "hopper"}}, {})[0]
    maze, goal = name.split("-goal")
    return expand_pairs({maze: {"kind": "maze"}}, {"maze": {"goals": [int(goal)]}})[0]


def true_reward(pair: PairSpec) -> Any:
    """The retrain stage's true-reward model of ``pair`` (None: the env's own)."""
    if pair.kind != "maze":
        return None
    from rr_gym.rewards.true_reward import PointMazeTrueReward

    return PointMazeTrueReward(reward_type=pair.base.unit["reward_type"])


def run(pair: PairSpec, config: dict[str, Any], seed: int, args: argparse.Namespace) -> dict:
    """Train one agent; its normalised return at each checkpoint and its seconds."""
    from stable_baselines3.common.callbacks import BaseCallback

    venv = reward_venv(
        pair,
        true_reward(pair),
        n_envs=int(config["n_envs"]),
        seed=seed,
        vec_normalize=config.get("vec_normalize"),
    )
    key = pair.kind_impl.observation_key
    curve: list[tuple[int, float]] = []
    eval_seconds = [0.0]

    def score(model: Any, episodes: int) -> float:
        tick = time.perf_counter()
        stats = evaluate_returns(
            pair, ArrayPolicy.from_sb3(model, key), episodes=episodes, n_envs=5, seed=10_000 + seed
        )
        eval_seconds[0] += time.perf_counter() - tick
        return pair.normalized_score(stats.returns)

    class Checkpoints(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps // args.eval_every > len(curve):
                curve.append((self.num_timesteps, score(self.model, args.checkpoint_episodes)))
            return True

    tick = time.perf_counter()
    model = train_agent(
        venv,
        algo=config["algo"],
        timesteps=args.timesteps,
        seed=seed,
        kwargs=config.get("kwargs"),
        progress=False,
        callback=Checkpoints(),
    )
    final = score(model, args.episodes)
    seconds = time.perf_counter() - tick - eval_seconds[0]
    return {"final": final, "curve": curve, "train_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", default="hopper")
    parser.add_argument("--configs", nargs="+", default=["ppo", "ppo_norm"], choices=CONFIGS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--timesteps", type=int, default=150_000)
    parser.add_argument("--eval-every", type=int, default=50_000)
    parser.add_argument("--checkpoint-episodes", type=int, default=5)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("retrain_agents.jsonl"))
    args = parser.parse_args()
    pair = make_pair(args.pair)
    for name in args.configs:
        for seed in args.seeds:
            result = {"pair": args.pair, "config": name, "seed": seed, "timesteps": args.timesteps}
            result.update(run(pair, CONFIGS[name], seed, args))
            print(json.dumps(result), flush=True)
            with args.out.open("a") as f:
                f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
