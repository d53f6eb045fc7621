"""The retrain stage's agent env: reward replacement, VecNormalize, and its evaluation policy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecNormalize

from rr_gym.bench.pairs import PairSpec
from rr_gym.bench.retrain import ArrayPolicy, reward_venv, train_agent
from rr_gym.errors import ConfigError
from rr_gym.rewards.true_reward import PointMazeTrueReward
from rr_gym.wrappers import VecRelativeReward

PAIR = PairSpec(
    "umaze-goal6",
    "maze",
    "umaze",
    None,
    None,
    options={"maze": "umaze", "goal": 6, "goal_cell": [3, 1]},
)


def reward_wrapper(venv: Any) -> VecRelativeReward:
    """The :class:`VecRelativeReward` inside a chain of SB3 vec env wrappers."""
    while not isinstance(venv, VecRelativeReward):
        venv = venv.venv
    return venv


@pytest.mark.parametrize(
    ("vec_normalize", "wrapper_normalizes"),
    [
        (None, True),
        ({"norm_obs": True, "norm_reward": True}, False),
        ({"norm_obs": True}, False),  # VecNormalize's default norm_reward=True
        ({"norm_obs": True, "norm_reward": False}, True),
    ],
)
def test_one_reward_normalisation_whatever_vec_normalize_says(
    vec_normalize: dict[str, bool] | None, wrapper_normalizes: bool
) -> None:
    venv = reward_venv(PAIR, PointMazeTrueReward(), n_envs=2, seed=0, vec_normalize=vec_normalize)
    assert isinstance(venv, VecNormalize) == (vec_normalize is not None)
    assert (reward_wrapper(venv).reward_norm is not None) == wrapper_normalizes
    assert venv.reset().shape == (2, 4)
    venv.close()


def test_the_envs_own_reward_is_normalised_by_vec_normalize() -> None:
    venv = reward_venv(PAIR, None, n_envs=2, seed=0, vec_normalize={"norm_reward": True})
    venv.reset()
    venv.step(np.zeros((2, 2), np.float32))
    assert isinstance(venv, VecNormalize) and venv.norm_reward and venv.ret_rms.count > 1
    venv.close()


def test_unknown_vec_normalize_options_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"\['norm_obsx'\].*norm_obs"):
        reward_venv(PAIR, None, vec_normalize={"norm_obsx": True})


def test_the_evaluation_policy_sees_observations_as_the_agent_did() -> None:
    """A policy trained on normalised observations must be evaluated on them too."""
    venv = reward_venv(PAIR, None, n_envs=2, seed=0, vec_normalize={"norm_obs": True})
    model = train_agent(
        venv,
        algo="ppo",
        timesteps=64,
        seed=0,
        kwargs={"n_steps": 32, "batch_size": 32},
        progress=False,
    )
    stats = model.get_env().obs_rms
    assert stats.count > 1 and np.abs(stats.mean).max() > 0
    obs = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32) * 3
    expected = model.predict(
        np.clip((obs - stats.mean) / np.sqrt(stats.var + 1e-8), -10, 10), deterministic=True
    )[0]
    before = stats.count
    np.testing.assert_allclose(ArrayPolicy.from_sb3(model).predict(obs), expected, rtol=1e-5)
    assert stats.count == before  # read, not updated
    unnormalised = model.predict(obs, deterministic=True)[0]
    assert not np.allclose(unnormalised, expected)
