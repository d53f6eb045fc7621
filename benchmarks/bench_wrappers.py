"""Env steps/s with and without rr_gym's reward wrappers (issue 4).

For PointMaze_UMaze-v3 and Hopper-v5, on the CPU:

- single env: ``gym.make(id)`` vs ``RelativeReward(gym.make(id), model)``; the wrapper's
  cost per step in microseconds;
- 8-env ``SyncVectorEnv`` (``gym.make_vec(id, 8, "sync")``) vs ``VectorRelativeReward``
  over it (one batched pass per step), and, for comparison, ``RelativeReward`` on every
  sub-environment (``make_vec(..., wrappers=[RelativeReward])``); overhead in % of the
  raw vector step time (target: at most 25 % for the vector wrapper).

The reward is a ``RelativeRewardModel`` of ``rr_gym.extract_reward``'s default size (MLP
256 x 3, time embedding 32) over the default layout ``observation + action``. Raw and
wrapped runs alternate and the median of ``--repeats`` runs is reported, which tames the
noise of a shared machine.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_wrappers.py [--steps 4000] [--json out]``
(``--clock cpu`` times with ``process_time``, steadier on a machine shared with other jobs).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import rr_gym.envs  # noqa: F401  (registers PointMaze and rr_gym/ ids)
from rr_gym.data import infer_layout
from rr_gym.rewards import RelativeRewardModel
from rr_gym.wrappers import RelativeReward, VectorRelativeReward

ENVS = ("PointMaze_UMaze-v3", "Hopper-v5")
NUM_ENVS = 8


CLOCK: Callable[[], float] = time.perf_counter


def _run_single(env: gym.Env[Any, Any], actions: np.ndarray) -> float:
    """Seconds to take ``len(actions)`` steps, resetting at episode ends."""
    env.reset(seed=0)
    start = CLOCK()
    for a in actions:
        _, _, terminated, truncated, _ = env.step(a)
        if terminated or truncated:
            env.reset()
    return CLOCK() - start


def _run_vector(envs: gym.vector.VectorEnv[Any, Any, Any], actions: np.ndarray) -> float:
    envs.reset(seed=0)
    start = CLOCK()
    for a in actions:
        envs.step(a)
    return CLOCK() - start


def _median_pair(
    raw: Callable[[], float], wrapped: Callable[[], float], repeats: int
) -> tuple[float, float]:
    raw(), wrapped()  # warm-up
    r, w = [], []
    for _ in range(repeats):
        r.append(raw())
        w.append(wrapped())
    return statistics.median(r), statistics.median(w)


def bench_env(
    env_id: str, steps: int, repeats: int, seed: int, hidden_dim: int = 256
) -> list[dict[str, Any]]:
    """Rows of the results table for one env id (reward MLP ``hidden_dim`` x 3)."""
    probe = gym.make(env_id)
    layout = infer_layout(probe.observation_space, probe.action_space)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = RelativeRewardModel(layout, hidden_dim=hidden_dim).eval()
    gen = np.random.default_rng(seed)
    low, high = probe.action_space.low, probe.action_space.high
    single_actions = gen.uniform(low, high, size=(steps, *low.shape)).astype(np.float32)
    vec_steps = max(steps // NUM_ENVS, 1)
    vec_actions = gen.uniform(low, high, size=(vec_steps, NUM_ENVS, *low.shape)).astype(np.float32)
    rows: list[dict[str, Any]] = []

    raw_env, wrapped_env = gym.make(env_id), RelativeReward(gym.make(env_id), model)
    t_raw, t_wrapped = _median_pair(
        lambda: _run_single(raw_env, single_actions),
        lambda: _run_single(wrapped_env, single_actions),
        repeats,
    )
    rows.append(_row(env_id, "single env", "RelativeReward", steps, t_raw, t_wrapped))

    raw_vec = gym.make_vec(env_id, num_envs=NUM_ENVS, vectorization_mode="sync")
    wrapped_vec = VectorRelativeReward(
        gym.make_vec(env_id, num_envs=NUM_ENVS, vectorization_mode="sync"), model
    )
    per_env = gym.make_vec(
        f"rr_gym/{env_id}",
        num_envs=NUM_ENVS,
        vectorization_mode="sync",
        wrappers=[RelativeReward],
        reward_model=model,
    )
    n = vec_steps * NUM_ENVS
    t_raw, t_wrapped = _median_pair(
        lambda: _run_vector(raw_vec, vec_actions),
        lambda: _run_vector(wrapped_vec, vec_actions),
        repeats,
    )
    rows.append(_row(env_id, f"sync x{NUM_ENVS}", "VectorRelativeReward", n, t_raw, t_wrapped))
    t_raw, t_wrapped = _median_pair(
        lambda: _run_vector(raw_vec, vec_actions),
        lambda: _run_vector(per_env, vec_actions),
        repeats,
    )
    rows.append(
        _row(env_id, f"sync x{NUM_ENVS}", "RelativeReward per sub-env", n, t_raw, t_wrapped)
    )
    for env in (raw_env, wrapped_env, raw_vec, wrapped_vec, per_env):
        env.close()
    return rows


def _row(
    env_id: str, setting: str, wrapper: str, env_steps: int, t_raw: float, t_wrapped: float
) -> dict[str, Any]:
    calls = env_steps if setting == "single env" else env_steps // NUM_ENVS
    return {
        "env": env_id,
        "setting": setting,
        "wrapper": wrapper,
        "raw_steps_per_s": env_steps / t_raw,
        "wrapped_steps_per_s": env_steps / t_wrapped,
        "overhead_pct": 100.0 * (t_wrapped - t_raw) / t_raw,
        "overhead_us_per_call": 1e6 * (t_wrapped - t_raw) / calls,
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results as a markdown table."""
    lines = [
        "| env | setting | wrapper | raw steps/s | wrapped steps/s | overhead "
        "| cost per step call |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['env']} | {r['setting']} | {r['wrapper']} | {r['raw_steps_per_s']:,.0f} | "
            f"{r['wrapped_steps_per_s']:,.0f} | {r['overhead_pct']:.1f} % | "
            f"{r['overhead_us_per_call']:.0f} µs |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="env steps per run")
    parser.add_argument("--repeats", type=int, default=5, help="alternating runs; median")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--hidden-dim", type=int, default=256, help="reward MLP width (256: the default size)"
    )
    parser.add_argument("--envs", default=",".join(ENVS))
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall: perf_counter; cpu: process_time (steadier on a shared machine)",
    )
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.perf_counter if args.clock == "wall" else time.process_time
    torch.set_num_threads(args.threads)
    rows: list[dict[str, Any]] = []
    for env_id in args.envs.split(","):
        rows += bench_env(env_id, args.steps, args.repeats, args.seed, args.hidden_dim)
    print(
        f"CPU: {platform.processor() or platform.machine()}, torch threads {args.threads}, "
        f"{args.steps} env steps per run, median of {args.repeats}, {args.clock} clock, "
        f"reward MLP {args.hidden_dim} x 3"
    )
    print(markdown(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
