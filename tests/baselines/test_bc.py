"""Behaviour cloning, the policy baseline."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor

import rr_gym
from rr_gym.baselines import BCPolicy, train_bc
from rr_gym.baselines.bc import BCTrainer
from rr_gym.errors import ConfigError, DataError
from rr_gym.trainer import TrainConfig
from rr_gym.utils.seeding import seeded
from tests.baselines.conftest import PENDULUM_LAYOUT

RNG = np.random.default_rng(2)
W = RNG.normal(size=(3, 2))
OBS = RNG.normal(size=(2000, 3))
ACT = OBS @ W + 0.5
OPTIONS = {"device": "cpu", "progress": False}


def test_learns_a_linear_map_to_near_zero_error() -> None:
    result = train_bc(
        (OBS, ACT), steps=400, hidden_sizes=(), lr=1e-2, batch_size=128, ema_decay=None, **OPTIONS
    )
    test = RNG.normal(size=(100, 3))
    error = np.abs(result.policy.predict(test) - (test @ W + 0.5)).max()
    assert error < 1e-2
    assert result.history[-1]["mse"] < 1e-4 and result.steps == 400


def test_gaussian_policy_samples_around_its_mean() -> None:
    result = train_bc(
        (OBS, ACT + RNG.normal(0, 0.3, ACT.shape)),
        steps=300,
        hidden_sizes=(),
        lr=1e-2,
        batch_size=256,
        stochastic=True,
        ema_decay=None,
        **OPTIONS,
    )
    policy = result.policy
    std = np.exp(policy.log_std.detach().numpy()) * policy.act_normalizer.scale
    np.testing.assert_allclose(std, 0.3, rtol=0.3)
    samples = policy.predict(np.zeros((500, 3)), deterministic=False, rng=RNG)
    np.testing.assert_allclose(samples.mean(0), 0.5, atol=0.1)
    with pytest.raises(ConfigError, match="needs a stochastic policy and rng"):
        policy.predict(np.zeros(3), deterministic=False)


def test_save_load_and_sb3_evaluation(pendulum_expert: np.ndarray, tmp_path: Path) -> None:
    env = gym.make("Pendulum-v1")
    result = train_bc(
        pendulum_expert,
        layout=PENDULUM_LAYOUT,
        action_space=env.action_space,
        steps=20,
        batch_size=64,
        hidden_sizes=(16,),
        **OPTIONS,
    )
    policy = result.policy
    policy.save(tmp_path / "bc")
    loaded = rr_gym.load(tmp_path / "bc")
    assert isinstance(loaded, BCPolicy)
    obs = pendulum_expert[:10, :3]
    np.testing.assert_array_equal(loaded.predict(obs), policy.predict(obs))
    assert np.all(np.abs(loaded.predict(obs * 100)) <= 2.0)  # clipped to the action space
    mean, _ = evaluate_policy(loaded.as_sb3(), Monitor(env), n_eval_episodes=1)
    assert np.isfinite(mean)


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    rows = torch.as_tensor(np.concatenate([OBS, ACT], 1), dtype=torch.float32)

    def make(steps: int, d: Path, seed: int = 0, **kw: object) -> BCTrainer:
        policy = seeded(lambda: BCPolicy(3, 2, hidden_sizes=(8,), stochastic=True), seed)
        config = TrainConfig(
            steps=steps, batch_size=32, log_every=4, progress=False, checkpoint_dir=str(d), **kw
        )  # type: ignore[arg-type]
        return BCTrainer(policy, rows, config, torch.device("cpu"))

    full = make(16, tmp_path / "full", checkpoint_every=8)
    full.fit()
    make(8, tmp_path / "split").fit()
    resumed = make(16, tmp_path / "split", seed=5)
    resumed.fit(resume=True)
    for key, value in full.module.state_dict().items():
        assert torch.equal(value, resumed.module.state_dict()[key]), key
    assert full.history == resumed.history


def test_bad_inputs() -> None:
    with pytest.raises(DataError, match="10 observations but 9 actions"):
        train_bc((OBS[:10], ACT[:9]), steps=1, **OPTIONS)
    with pytest.raises(DataError, match="expert data has 10 samples, fewer than the 256"):
        train_bc((OBS[:10], ACT[:10]), steps=1, **OPTIONS)
    with pytest.raises(ConfigError, match="pass layout="):
        train_bc(np.zeros((300, 5)), steps=1, **OPTIONS)
    with pytest.raises(DataError, match="actions have size 2 but action_space"):
        train_bc((OBS, ACT), action_space=gym.spaces.Box(-1, 1, (1,)), steps=1, **OPTIONS)
    with pytest.raises(DataError, match="observation of shape \\(4,\\)"):
        BCPolicy(3, 1).predict(np.zeros(4))
