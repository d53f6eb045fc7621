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
wrapped blocks of ``--steps`` env steps alternate; the overhead is the median over
``--rounds`` of each wrapped block against the raw block next to it, which cancels most of
a shared machine's drift in speed.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_wrappers.py [--rounds 31] [--json out]``
(``--backend numpy`` times the NumPy path that replaces the compiled kernel where it is not
built; ``--clock cpu`` times with ``process_time``, steadier on a machine shared with other
jobs).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

import rr_gym.envs  # noqa: F401  (registers PointMaze and rr_gym/ ids)
from rr_gym.data.fields import infer_layout
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


class Paired(NamedTuple):
    """Medians over rounds of one raw and one wrapped block each (seconds per block)."""

    raw: float
    wrapped: float
    extra: float  # median over rounds of (wrapped - raw): the wrapper's time per block
    ratio: float  # median over rounds of (wrapped - raw) / raw


def _paired(raw: Callable[[], float], wrapped: Callable[[], float], rounds: int) -> Paired:
    """Time ``rounds`` adjacent (raw, wrapped) blocks, alternating which goes first.

    The machine's speed drifts by tens of percent over seconds on a shared VM; comparing
    each wrapped block with the raw block next to it and taking medians over the rounds
    cancels most of that drift.
    """
    raw(), wrapped()  # warm-up
    r, w = [], []
    for i in range(rounds):
        if i % 2:
            w.append(wrapped())
            r.append(raw())
        else:
            r.append(raw())
            w.append(wrapped())
    return Paired(
        statistics.median(r),
        statistics.median(w),
        statistics.median(b - a for a, b in zip(r, w, strict=True)),
        statistics.median((b - a) / a for a, b in zip(r, w, strict=True)),
    )


def bench_env(
    env_id: str, steps: int, rounds: int, seed: int, hidden_dim: int = 256, backend: str = "auto"
) -> list[dict[str, Any]]:
    """Rows of the results table for one env id (reward MLP ``hidden_dim`` x 3, evaluated
    by the wrappers' ``backend``)."""
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

    raw_env = gym.make(env_id)
    wrapped_env = RelativeReward(gym.make(env_id), model, backend=backend)
    timed = _paired(
        lambda: _run_single(raw_env, single_actions),
        lambda: _run_single(wrapped_env, single_actions),
        rounds,
    )
    rows.append(_row(env_id, "single env", "RelativeReward", steps, timed))

    raw_vec = gym.make_vec(env_id, num_envs=NUM_ENVS, vectorization_mode="sync")
    wrapped_vec = VectorRelativeReward(
        gym.make_vec(env_id, num_envs=NUM_ENVS, vectorization_mode="sync"), model, backend=backend
    )
    per_env = gym.make_vec(
        f"rr_gym/{env_id}",
        num_envs=NUM_ENVS,
        vectorization_mode="sync",
        wrappers=[RelativeReward],
        reward_model=model,
        backend=backend,
    )
    n = vec_steps * NUM_ENVS
    timed = _paired(
        lambda: _run_vector(raw_vec, vec_actions),
        lambda: _run_vector(wrapped_vec, vec_actions),
        rounds,
    )
    rows.append(_row(env_id, f"sync x{NUM_ENVS}", "VectorRelativeReward", n, timed))
    timed = _paired(
        lambda: _run_vector(raw_vec, vec_actions),
        lambda: _run_vector(per_env, vec_actions),
        rounds,
    )
    rows.append(_row(env_id, f"sync x{NUM_ENVS}", "RelativeReward per sub-env", n, timed))
    for env in (raw_env, wrapped_env, raw_vec, wrapped_vec, per_env):
        env.close()
    for row in rows:
        row["backend"] = wrapped_vec.engine.scorer.backend
    return rows


def _row(env_id: str, setting: str, wrapper: str, env_steps: int, timed: Paired) -> dict[str, Any]:
    calls = env_steps if setting == "single env" else env_steps // NUM_ENVS
    return {
        "env": env_id,
        "setting": setting,
        "wrapper": wrapper,
        "raw_steps_per_s": env_steps / timed.raw,
        "wrapped_steps_per_s": env_steps / timed.wrapped,
        "overhead_pct": 100.0 * timed.ratio,
        "overhead_us_per_call": 1e6 * timed.extra / calls,
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
    parser.add_argument("--steps", type=int, default=800, help="env steps per timed block")
    parser.add_argument(
        "--rounds", type=int, default=31, help="adjacent (raw, wrapped) block pairs; medians"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--hidden-dim", type=int, default=256, help="reward MLP width (256: the default size)"
    )
    parser.add_argument("--envs", default=",".join(ENVS))
    parser.add_argument(
        "--backend",
        choices=("auto", "native", "numpy", "torch"),
        default="auto",
        help="how the wrappers evaluate the reward (auto: the compiled kernel when built)",
    )
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
        rows += bench_env(env_id, args.steps, args.rounds, args.seed, args.hidden_dim, args.backend)
    print(
        f"CPU: {platform.processor() or platform.machine()}, torch threads {args.threads}, "
        f"{args.steps} env steps per block, medians over {args.rounds} block pairs, "
        f"{args.clock} clock, reward MLP {args.hidden_dim} x 3, evaluated by "
        f"{sorted({r['backend'] for r in rows})}"
    )
    print(markdown(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main()
