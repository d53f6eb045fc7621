"""MLPPolicy: matches SB3's actor, round-trips through safetensors, rejects bad files."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from rr_gym.data.policies import MLPPolicy
from rr_gym.errors import CheckpointError, ConfigError, DataError


@pytest.fixture(scope="module")
def sb3_policy():  # type: ignore[no-untyped-def]
    from stable_baselines3 import PPO

    model = PPO(
        "MlpPolicy",
        gym.make("Pendulum-v1"),
        seed=0,
        device="cpu",
        policy_kwargs={"net_arch": [16, 8], "log_std_init": -0.5},
    )
    return model


def test_matches_sb3_deterministic_actions(sb3_policy) -> None:  # type: ignore[no-untyped-def]
    policy = MLPPolicy.from_sb3(sb3_policy.policy, info={"note": "x"})
    assert policy.obs_dim == 3 and policy.act_dim == 1 and policy.activation == "tanh"
    obs = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    expected, _ = sb3_policy.predict(obs, deterministic=True)
    np.testing.assert_allclose(policy.act(obs, deterministic=True), expected, atol=1e-5)
    np.testing.assert_allclose(policy.log_std, -0.5)


def test_stochastic_actions_use_the_generator(sb3_policy) -> None:  # type: ignore[no-untyped-def]
    policy = MLPPolicy.from_sb3(sb3_policy.policy)
    obs = np.zeros(3)
    a = policy.act(obs, rng=np.random.default_rng(1))
    b = policy.act(obs, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ConfigError, match="rng"):
        policy.act(obs)
    with pytest.raises(DataError, match="expected"):
        policy.act(np.zeros(5), deterministic=True)


def test_save_load_round_trip(sb3_policy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = MLPPolicy.from_sb3(sb3_policy.policy, info={"eval_return": 12.5})
    path = policy.save(tmp_path / "p.safetensors")
    loaded = MLPPolicy.load(path)
    assert loaded.info == {"eval_return": 12.5}
    obs = np.ones((4, 3))
    np.testing.assert_array_equal(
        loaded.act(obs, deterministic=True), policy.act(obs, deterministic=True)
    )
    assert path.read_bytes()[:8] != b"PK\x03\x04"  # not a zip/pickle


def test_relu_activation() -> None:
    from stable_baselines3.common.policies import ActorCriticPolicy

    env = gym.make("Pendulum-v1")
    net = ActorCriticPolicy(
        env.observation_space,
        env.action_space,
        lambda _: 1e-3,
        net_arch=[8],
        activation_fn=torch.nn.ReLU,
    )
    policy = MLPPolicy.from_sb3(net)
    assert policy.activation == "relu"
    obs = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    with torch.no_grad():
        mean = net.get_distribution(torch.as_tensor(obs)).distribution.mean.numpy()
    np.testing.assert_allclose(policy.mean(obs), mean, atol=1e-5)


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        MLPPolicy.load(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        MLPPolicy.load(junk)
    from safetensors.numpy import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(2)}, str(other))
    with pytest.raises(CheckpointError, match="not an rr_gym policy"):
        MLPPolicy.load(other)


def test_invalid_construction() -> None:
    with pytest.raises(ConfigError, match="activation='gelu'"):
        MLPPolicy((np.zeros((2, 2)),), (np.zeros(2),), np.zeros(2), "gelu", -np.ones(2), np.ones(2))
    with pytest.raises(ConfigError, match="log_std"):
        MLPPolicy((np.zeros((2, 2)),), (np.zeros(2),), np.zeros(3), "tanh", -np.ones(2), np.ones(2))
