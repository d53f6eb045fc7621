"""Cross-check rr_gym's GAIL and AIRL against imitation 1.0.1 (the reference implementation).

Both implementations train the same SB3 PPO learner (same hyperparameters, envs and seeds)
with the same discriminator architecture (imitation's ``BasicRewardNet`` /
``BasicShapedRewardNet``: 32-unit ReLU MLPs behind a running input normaliser) on the same
expert transitions and budgets; each trained learner is then scored on the true env reward
(deterministic actions, 20 fixed-seed episodes).

imitation is never a dependency of rr_gym: it pins gymnasium 0.29 / SB3 2.2, but its
algorithms run on gymnasium 1.x / SB3 2.9 when installed without dependencies into a
separate folder that only the imitation runs put on ``PYTHONPATH``::

    pip install --no-deps --target /tmp/imitation_pkgs imitation==1.0.1 seals==0.2.1 \
        tensorboard tensorboard-data-server absl-py grpcio markdown protobuf werkzeug

Then (each run is a subprocess; one at a time, one torch thread)::

    python benchmarks/crosscheck_imitation.py all --env pendulum --seeds 0 1 2 \
        --imitation-path /tmp/imitation_pkgs --out /tmp/crosscheck_pendulum.jsonl
    python benchmarks/crosscheck_imitation.py table /tmp/crosscheck_pendulum.jsonl

Expert data. Pendulum-v1: an energy-pumping swing-up controller with a PD balance near the
top (no training; 20 episodes, mean return about -137). Hopper-v5:
``rr_gym.data.generate_locomotion`` (PPO expert, minutes to build).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

ENVS = {"pendulum": "Pendulum-v1", "hopper": "Hopper-v5"}

# PPO: RL-Zoo's tuned Pendulum settings (without VecNormalize); SB3 defaults for Hopper.
PPO_KWARGS: dict[str, dict[str, Any]] = {
    "pendulum": {
        "n_steps": 1024,
        "gae_lambda": 0.95,
        "gamma": 0.9,
        "n_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
        "clip_range": 0.2,
        "use_sde": True,
        "sde_sample_freq": 4,
    },
    "hopper": {"n_steps": 2048, "batch_size": 64},
}
N_ENVS = {"pendulum": 4, "hopper": 1}
DEFAULT_TIMESTEPS = {"pendulum": 102_400, "hopper": 204_800}
DEMO_BATCH = 1024
DISC_UPDATES = 8
EVAL_EPISODES = 20


# ---------------------------------------------------------------------------- expert data
def pendulum_action(obs: np.ndarray) -> np.ndarray:
    """Swing-up by energy pumping, PD balance near the top (Pendulum-v1's dynamics:
    ``theta'' = 15 sin(theta) + 3 u``, so the upright energy is ``0.5 w^2 + 15 cos = 15``)."""
    c, s, w = (float(v) for v in obs)
    theta = np.arctan2(s, c)
    energy = 0.5 * w**2 + 15.0 * c
    if c > 0.85:
        u = -10.0 * theta - 2.0 * w
    else:
        u = 2.0 * np.sign(w * (15.0 - energy)) if abs(w) > 1e-3 else 2.0
    return np.clip([u], -2.0, 2.0).astype(np.float32)


def pendulum_expert(episodes: int = 20) -> dict[str, np.ndarray]:
    env = gym.make("Pendulum-v1")
    obs_l, act_l, next_l, done_l, returns = [], [], [], [], []
    for ep in range(episodes):
        obs, _ = env.reset(seed=ep)
        total, done = 0.0, False
        while not done:
            act = pendulum_action(obs)
            nxt, rew, term, trunc, _ = env.step(act)
            obs_l.append(obs), act_l.append(act), next_l.append(nxt), done_l.append(term)
            total += float(rew)
            obs, done = nxt, term or trunc
        returns.append(total)
    return {
        "obs": np.asarray(obs_l, np.float32),
        "acts": np.asarray(act_l, np.float32),
        "next_obs": np.asarray(next_l, np.float32),
        "dones": np.asarray(done_l, bool),
        "returns": np.asarray(returns),
    }


def hopper_expert(cache: Path) -> dict[str, np.ndarray]:
    from rr_gym.baselines.inputs import load_transitions
    from rr_gym.data import generate_locomotion, locomotion_dataset_id
    from rr_gym.data.storage import minari_root_env

    with minari_root_env(cache):
        dataset_id = locomotion_dataset_id("hopper", "expert")
        if not (cache / dataset_id).exists():
            generate_locomotion("hopper", levels="expert", steps_per_level=20_000, seed=0)
        data = load_transitions(dataset_id)
        import minari

        ds = minari.load_dataset(dataset_id)
        returns = np.asarray([float(np.sum(e.rewards)) for e in ds.iterate_episodes()])
    return {
        "obs": data.field("observation"),
        "acts": data.field("action"),
        "next_obs": data.field("next_observation"),
        "dones": data.dones,
        "returns": returns,
    }


def expert_data(env: str, cache: Path) -> dict[str, np.ndarray]:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{env}_expert.npz"
    if path.exists():
        return dict(np.load(path))
    data = pendulum_expert() if env == "pendulum" else hopper_expert(cache / "minari")
    np.savez(path, **data)
    return data


# ---------------------------------------------------------------------------- evaluation
def evaluate(learner: Any, env_id: str, episodes: int = EVAL_EPISODES) -> list[float]:
    env = gym.make(env_id)
    out = []
    for i in range(episodes):
        obs, _ = env.reset(seed=10_000 + i)
        total, done = 0.0, False
        while not done:
            act, _ = learner.predict(obs, deterministic=True)
            obs, rew, term, trunc, _ = env.step(act)
            total += float(rew)
            done = term or trunc
        out.append(total)
    return out


# ---------------------------------------------------------------------------- one run
def run_rr_gym(algo: str, env: str, data: dict[str, np.ndarray], seed: int, steps: int) -> Any:
    from rr_gym.baselines import train_airl, train_gail

    rows = np.concatenate([data["obs"], data["acts"], data["next_obs"]], axis=1)
    common = {
        "total_timesteps": steps,
        "seed": seed,
        "device": "cpu",
        "n_envs": N_ENVS[env],
        "ppo_kwargs": PPO_KWARGS[env],
        "demo_batch_size": DEMO_BATCH,
        "n_disc_updates_per_round": DISC_UPDATES,
        "dones": data["dones"],
        "progress": False,
    }
    fn = train_gail if algo == "gail" else train_airl
    return fn(ENVS[env], rows, **common).learner


def run_imitation(algo: str, env: str, data: dict[str, np.ndarray], seed: int, steps: int) -> Any:
    from imitation.algorithms.adversarial.airl import AIRL
    from imitation.algorithms.adversarial.gail import GAIL
    from imitation.data.types import Transitions
    from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet
    from imitation.util import logger as imitation_logger
    from imitation.util.networks import RunningNorm
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(ENVS[env], n_envs=N_ENVS[env], seed=seed)
    learner = PPO("MlpPolicy", venv, seed=seed, verbose=0, device="cpu", **PPO_KWARGS[env])
    demos = Transitions(
        obs=data["obs"],
        acts=data["acts"],
        infos=np.array([{}] * len(data["obs"])),
        next_obs=data["next_obs"],
        dones=data["dones"],
    )
    net_cls = BasicRewardNet if algo == "gail" else BasicShapedRewardNet
    net = net_cls(venv.observation_space, venv.action_space, normalize_input_layer=RunningNorm)
    algo_cls = GAIL if algo == "gail" else AIRL
    with tempfile.TemporaryDirectory() as log_dir:
        trainer = algo_cls(
            demonstrations=demos,
            demo_batch_size=DEMO_BATCH,
            n_disc_updates_per_round=DISC_UPDATES,
            venv=venv,
            gen_algo=learner,
            reward_net=net,
            allow_variable_horizon=True,
            custom_logger=imitation_logger.configure(log_dir, format_strs=[]),
        )
        trainer.train(steps)
    return learner


def cmd_run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(1)
    data = expert_data(args.env, Path(args.cache))
    run = run_rr_gym if args.impl == "rr_gym" else run_imitation
    start, cpu_start = time.perf_counter(), time.process_time()
    learner = run(args.algo, args.env, data, args.seed, args.timesteps)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    returns = evaluate(learner, ENVS[args.env])
    record = {
        "impl": args.impl,
        "algo": args.algo,
        "env": args.env,
        "seed": args.seed,
        "timesteps": args.timesteps,
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "eval_mean": float(np.mean(returns)),
        "eval_std": float(np.std(returns)),
        "expert_return": float(np.mean(data["returns"])),
    }
    with open(args.out, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)


def cmd_all(args: argparse.Namespace) -> None:
    for algo in args.algos:
        for seed in args.seeds:
            for impl in ("rr_gym", "imitation"):
                env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
                if impl == "imitation":
                    env["PYTHONPATH"] = os.pathsep.join(
                        p for p in (args.imitation_path, env.get("PYTHONPATH")) if p
                    )
                cmd = [
                    sys.executable,
                    __file__,
                    "run",
                    "--impl",
                    impl,
                    "--algo",
                    algo,
                    "--env",
                    args.env,
                    "--seed",
                    str(seed),
                    "--timesteps",
                    str(args.timesteps or DEFAULT_TIMESTEPS[args.env]),
                    "--cache",
                    args.cache,
                    "--out",
                    args.out,
                ]
                result = subprocess.run(cmd, env=env, check=False)
                if result.returncode:
                    print(f"FAILED ({result.returncode}): {' '.join(cmd)}", flush=True)


def random_return(env_id: str, episodes: int = EVAL_EPISODES) -> float:
    env = gym.make(env_id)
    env.action_space.seed(0)
    out = []
    for i in range(episodes):
        env.reset(seed=10_000 + i)
        total, done = 0.0, False
        while not done:
            _, rew, term, trunc, _ = env.step(env.action_space.sample())
            total += float(rew)
            done = term or trunc
        out.append(total)
    return float(np.mean(out))


def cmd_table(args: argparse.Namespace) -> None:
    records = [json.loads(line) for line in Path(args.results).read_text().splitlines() if line]
    groups: dict[tuple[str, str, int, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["env"], r["algo"], r["timesteps"], r["impl"]), []).append(r)
    print(
        "| env | algo | impl | env steps | seeds | return per seed | mean ± std over seeds "
        "| train wall s per run | train CPU s per run |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for (env, algo, _, impl), rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])
        means = [r["eval_mean"] for r in rs]
        per_seed = ", ".join(f"{m:.0f}" for m in means)
        secs = np.mean([r["train_seconds"] for r in rs])
        cpu = [r["train_cpu_seconds"] for r in rs if "train_cpu_seconds" in r]
        cpu_s = f"{np.mean(cpu):.0f}" if cpu else "n/a"
        print(
            f"| {ENVS[env]} | {algo.upper()} | {impl} | {rs[0]['timesteps']:,} | {len(rs)} | "
            f"{per_seed} | {np.mean(means):.0f} ± {np.std(means):.0f} | {secs:.0f} | {cpu_s} |"
        )
    for env in sorted({r["env"] for r in records}):
        expert = next(r["expert_return"] for r in records if r["env"] == env)
        rand = random_return(ENVS[env])
        print(f"\n{ENVS[env]}: expert data {expert:.0f}, uniform random {rand:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="one (implementation, algorithm, seed)")
    run.add_argument("--impl", choices=["rr_gym", "imitation"], required=True)
    run.add_argument("--algo", choices=["gail", "airl"], required=True)
    run.add_argument("--seed", type=int, default=0)
    everything = sub.add_parser("all", help="every algorithm, seed and implementation")
    everything.add_argument("--algos", nargs="+", default=["gail", "airl"])
    everything.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    everything.add_argument("--imitation-path", default="/tmp/imitation_pkgs")
    for p in (run, everything):
        p.add_argument("--env", choices=sorted(ENVS), default="pendulum")
        p.add_argument("--timesteps", type=int, default=None)
        p.add_argument("--cache", default="/tmp/rr_gym_crosscheck")
        p.add_argument("--out", default="/tmp/crosscheck.jsonl")
    table = sub.add_parser("table", help="markdown table of a results file")
    table.add_argument("results")
    args = parser.parse_args()
    if args.cmd == "run" and args.timesteps is None:
        args.timesteps = DEFAULT_TIMESTEPS[args.env]
    {"run": cmd_run, "all": cmd_all, "table": cmd_table}[args.cmd](args)


if __name__ == "__main__":
    main()
