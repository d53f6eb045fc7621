"""Shared fixtures of the baseline tests: a tiny Pendulum expert, tiny PPO settings, and a
temporary Minari root (never ~/.minari)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO

from rr_gym.data.storage import DatasetWriter, EpisodeArrays
from rr_gym.layout import TransitionLayout

PENDULUM_LAYOUT = TransitionLayout.from_sizes(observation=3, action=1, next_observation=3)
# One PPO rollout of 2 envs x 64 steps per round, one epoch: a round takes ~0.1 s.
TINY: dict[str, Any] = {
    "n_envs": 2,
    "ppo_kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 1},
    "demo_batch_size": 64,
    "n_disc_updates_per_round": 2,
    "device": "cpu",
    "progress": False,
}


def pendulum_action(obs: np.ndarray) -> np.ndarray:
    """Energy-pumping swing-up with a PD balance near the top."""
    c, s, w = (float(v) for v in obs)
    energy = 0.5 * w**2 + 15.0 * c
    u = -10.0 * np.arctan2(s, c) - 2.0 * w if c > 0.85 else 2.0 * np.sign(w * (15 - energy) or 1)
    return np.clip([u], -2.0, 2.0).astype(np.float32)


def pendulum_episodes(n: int, steps: int = 100) -> list[EpisodeArrays]:
    env = gym.make("Pendulum-v1", max_episode_steps=steps)
    out = []
    for ep in range(n):
        obs, _ = env.reset(seed=ep)
        o, a, r, te, tr = [obs], [], [], [], []
        done = False
        while not done:
            act = pendulum_action(obs)
            obs, rew, term, trunc, _ = env.step(act)
            o.append(obs), a.append(act), r.append(rew), te.append(term), tr.append(trunc)
            done = term or trunc
        out.append(
            EpisodeArrays(
                observations=np.asarray(o),
                actions=np.asarray(a),
                rewards=np.asarray(r),
                terminations=np.asarray(te),
                truncations=np.asarray(tr),
            )
        )
    return out


@pytest.fixture(scope="session")
def pendulum_expert() -> np.ndarray:
    """``(400, 7)`` expert transitions ``[obs, action, next_obs]`` of Pendulum-v1."""
    rows = []
    for ep in pendulum_episodes(4):
        obs = np.asarray(ep.observations)
        rows.append(np.concatenate([obs[:-1], ep.actions, obs[1:]], axis=1))
    return np.concatenate(rows).astype(np.float32)


@pytest.fixture(autouse=True)
def minari_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty Minari root for each test (MINARI_DATASETS_PATH)."""
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return root


@pytest.fixture
def pendulum_dataset(minari_root: Path) -> str:
    """A local Minari dataset of 3 expert Pendulum episodes (300 steps); returns its id."""
    dataset_id = "rr_gym/pendulum-expert-v0"
    with DatasetWriter(dataset_id, env="Pendulum-v1") as writer:
        for episode in pendulum_episodes(3):
            writer.add(episode)
    return dataset_id


def expert_and_learner_rows(learner: PPO, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Held-out expert transitions (episodes the expert set lacks) and as many of the
    learner's own (stochastic actions), as ``[obs, action, next_obs]`` rows."""
    expert = np.concatenate(
        [
            np.concatenate([ep.observations[:-1], ep.actions, ep.observations[1:]], axis=1)
            for ep in pendulum_episodes(6)[4:]
        ]
    )[:n]
    env = gym.make("Pendulum-v1", max_episode_steps=100)
    obs, _ = env.reset(seed=100)
    rows = []
    while len(rows) < n:
        action = np.clip(learner.predict(obs, deterministic=False)[0], -2.0, 2.0)
        next_obs, _, terminated, truncated, _ = env.step(action)
        rows.append(np.concatenate([obs, action, next_obs]))
        obs = env.reset()[0] if terminated or truncated else next_obs
    return expert.astype(np.float32), np.asarray(rows, np.float32)


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counting half."""
    return float(np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :]))
