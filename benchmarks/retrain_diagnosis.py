"""Is a learned reward what its retrained agent fails on, or the agent? (issue 14, item 1)

Trains the retrain stage's maze agent (PPO, 16 envs, 150k steps) on a learned reward and on
the true sparse reward, then rolls out both (and a random policy) for one 300-step episode
on 10 envs and reports each policy's return under the *learned* reward (unnormalised) and
under the env's own reward. If the agent trained on the learned reward earns more learned
reward than the true-reward agent while reaching the goal less, the reward is being
exploited (it ranks a non-solving behaviour above the solving one), not under-optimised.

Run (one UMaze goal, ~2 minutes on one core; the reward is a saved model, e.g. one of the
bench cache's ``rewards/<key>/model``)::

    python benchmarks/retrain_diagnosis.py --reward CACHE/rewards/KEY/model --goal 0 --seed 4
"""

from __future__ import annotations

import argparse

import numpy as np
from retrain_agents import CONFIGS, make_pair, true_reward  # the script's folder is on sys.path

import rr_gym
from rr_gym.bench.retrain import reward_venv, train_agent

AGENT = CONFIGS["ppo_maze"]  # the retrain stage's maze agent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reward", required=True, help="a saved reward model")
    parser.add_argument("--maze", default="umaze")
    parser.add_argument("--goal", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timesteps", type=int, default=150_000)
    args = parser.parse_args()
    pair = make_pair(f"{args.maze}-goal{args.goal}")
    learned = rr_gym.load(args.reward)
    policies = {
        name: train_agent(
            reward_venv(pair, reward, n_envs=AGENT["n_envs"], seed=args.seed),
            algo=AGENT["algo"],
            timesteps=args.timesteps,
            seed=args.seed,
            kwargs=AGENT["kwargs"],
            progress=False,
        )
        for name, reward in [("learned", learned), ("true", true_reward(pair))]
    }
    policies["random"] = None
    for name, agent in policies.items():
        venv = reward_venv(pair, learned, {"normalize": False}, n_envs=10, seed=123)
        obs, learned_return, true_return = venv.reset(), np.zeros(10), np.zeros(10)
        for _ in range(300):  # one episode (PointMaze UMaze's 300 steps)
            if agent is None:
                action = np.stack([venv.action_space.sample() for _ in range(10)])
            else:
                action = agent.predict(obs, deterministic=True)[0]
            obs, reward, _, infos = venv.step(action)
            learned_return += reward
            true_return += [info["env_reward"] for info in infos]
        print(
            f"agent on {name:7s} reward: learned-reward return {learned_return.mean():9.1f} "
            f"+- {learned_return.std():7.1f}, env return {true_return.mean():6.1f}"
        )
        venv.close()


if __name__ == "__main__":
    main()
