"""VectorRelativeReward equals RelativeReward on each sub-environment, in every autoreset
mode, with one batched model call per step."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from rr_gym.errors import DataError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.wrappers import RelativeReward, VectorRelativeReward
from tests._factories import relative_reward
from tests.wrappers._helpers import LineEnv, line_model

LENGTHS = (2, 3, 5)
STEPS = 12


def _vector(mode: AutoresetMode, **kwargs: Any) -> SyncVectorEnv:
    fns = [lambda n=n: LineEnv(length=n, **kwargs) for n in LENGTHS]
    return SyncVectorEnv(fns, autoreset_mode=mode)


def _actions() -> np.ndarray:
    return np.random.default_rng(0).uniform(-1, 1, size=(STEPS, len(LENGTHS), 1)).astype(np.float32)


def _reference(model: Any, next_step: bool, **options: Any) -> np.ndarray:
    """Rewards of single-env wrappers stepped as the vector env steps its sub-envs."""
    out = np.zeros((STEPS, len(LENGTHS)))
    for i, n in enumerate(LENGTHS):
        env = RelativeReward(LineEnv(length=n), model, **options)
        env.reset(seed=10 + i)
        ended = False
        for k, actions in enumerate(_actions()):
            if next_step and ended:
                env.reset()
                ended = False
                continue  # reward 0
            _, out[k, i], terminated, truncated, _ = env.step(actions[i])
            ended = terminated or truncated
            if ended and not next_step:
                env.reset()
    return out


class _CountingScorer:
    def __init__(self, scorer: Any) -> None:
        self.scorer, self.batches = scorer, []

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        self.batches.append(len(windows))
        return self.scorer(windows)


@pytest.mark.parametrize("mode", list(AutoresetMode))
def test_vector_rewards_equal_single_env_rewards(mode: AutoresetMode) -> None:
    model = line_model(window=2)
    envs = VectorRelativeReward(_vector(mode), model, mode="add", scale=0.5)
    counter = _CountingScorer(envs.engine.scorer)
    envs.engine.scorer = counter  # type: ignore[assignment]
    envs.reset(seed=10)
    got = np.zeros((STEPS, len(LENGTHS)))
    for k, actions in enumerate(_actions()):
        _, got[k], terminated, truncated, info = envs.step(actions)
        assert info["_env_reward"].all()
        if mode is AutoresetMode.DISABLED and (terminated | truncated).any():
            envs.reset(options={"reset_mask": terminated | truncated})
    want = _reference(model, mode is AutoresetMode.NEXT_STEP, mode="add", scale=0.5)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert counter.batches == [len(LENGTHS)] * STEPS  # one batched pass per step


def test_next_step_reset_steps_are_masked_in_info() -> None:
    envs = VectorRelativeReward(_vector(AutoresetMode.NEXT_STEP), line_model())
    envs.reset(seed=0)
    masks, rewards = [], []
    for actions in _actions()[:4]:
        _, reward, _, _, info = envs.step(actions)
        masks.append(info["_model_reward"].copy())
        rewards.append(reward)
    # env 0 (length 2) ends at step 2 and resets at step 3; env 1 (length 3) at step 4.
    np.testing.assert_array_equal(
        masks, [[True, True, True], [True, True, True], [False, True, True], [True, False, True]]
    )
    assert rewards[2][0] == 0.0 and rewards[3][1] == 0.0


def test_running_normalisation_is_shared_by_sub_envs() -> None:
    envs = VectorRelativeReward(_vector(AutoresetMode.SAME_STEP), line_model(), normalize=True)
    envs.reset(seed=0)
    model_rewards = []
    for actions in _actions()[:3]:
        _, _, _, _, info = envs.step(actions)
        model_rewards.append(info["model_reward"])
    norm = envs.reward_norm
    assert norm is not None and norm.count == 9
    assert norm.var == pytest.approx(np.var(np.concatenate(model_rewards)), rel=1e-5)


def test_dict_observations_and_bad_inputs() -> None:
    layout = TransitionLayout.from_sizes(observation=3, action=1, next_goal=2)
    envs = VectorRelativeReward(
        _vector(AutoresetMode.NEXT_STEP, dict_obs=True), line_model(layout=layout)
    )
    envs.reset(seed=0)
    assert envs.step(_actions()[0])[1].shape == (3,)
    with pytest.raises(IncompatibleModelsError, match=r"shape \(4,\).*shape \(3,\)"):
        VectorRelativeReward(
            _vector(AutoresetMode.NEXT_STEP),
            relative_reward(TransitionLayout.from_sizes(observation=4, action=1)),
        )
    nan_envs = VectorRelativeReward(_vector(AutoresetMode.NEXT_STEP, nan_at=1), line_model())
    nan_envs.reset(seed=0)
    with pytest.raises(DataError, match=r"env 0's transition.*'next_observation'"):
        nan_envs.step(_actions()[0])


def test_make_vec_with_the_vector_wrapper() -> None:
    envs = VectorRelativeReward(
        gym.make_vec("Pendulum-v1", num_envs=2),
        relative_reward(TransitionLayout.from_sizes(observation=3, action=1)),
    )
    envs.reset(seed=0)
    _, rewards, _, _, info = envs.step(envs.action_space.sample())
    np.testing.assert_array_equal(rewards, info["model_reward"].astype(np.float64))


def test_errors_name_the_sub_env_of_an_async_vector_env() -> None:
    fns = [lambda i=i: LineEnv(nan_at=2 if i == 2 else None) for i in range(3)]
    envs = VectorRelativeReward(AsyncVectorEnv(fns), line_model())
    try:
        envs.reset(seed=0)
        actions = np.zeros((3, 1), np.float32)
        envs.step(actions)
        with pytest.raises(DataError, match=r"^env 2's transition .*'next_observation'"):
            envs.step(actions)
    finally:
        envs.close()
