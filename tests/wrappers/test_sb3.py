"""VecRelativeReward, and SB3 PPO / SAC training on wrapped PointMaze and Hopper."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv

import rr_gym.envs  # noqa: F401  (registers rr_gym/ ids)
from rr_gym.layout import TransitionLayout
from rr_gym.rewards import RewardModel
from rr_gym.wrappers import RelativeReward, VecRelativeReward
from tests._factories import relative_reward
from tests.wrappers._helpers import LineEnv, line_model, reference_rewards

MAZE = TransitionLayout.from_sizes(observation=4, action=2, next_observation=4)
HOPPER = TransitionLayout.from_sizes(observation=11, action=3, next_observation=11)


def test_vec_wrapper_equals_single_env_wrappers_across_resets() -> None:
    lengths, steps = (2, 3, 4), 9
    model = line_model(window=2)
    venv = VecRelativeReward(
        DummyVecEnv([lambda n=n: LineEnv(length=n) for n in lengths]), model, scale=3.0
    )
    venv.seed(20)
    venv.reset()
    actions = np.random.default_rng(1).uniform(-1, 1, (steps, 3, 1)).astype(np.float32)
    got = np.array([venv.step(a)[1] for a in actions])
    want = np.zeros((steps, 3))
    for i, n in enumerate(lengths):
        env = RelativeReward(LineEnv(length=n), model, scale=3.0)
        env.reset(seed=20 + i)
        for k in range(steps):
            _, want[k, i], terminated, truncated, _ = env.step(actions[k, i])
            if terminated or truncated:
                env.reset()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert got.dtype == np.float32


def _row(obs: Any, i: int) -> Any:
    return {k: v[i] for k, v in obs.items()} if isinstance(obs, dict) else obs[i]


class RewardCheck(BaseCallback):
    """Compares the rewards the agent receives with the reward model's predictions of the
    transitions it made (next observation: the terminal one at episode ends)."""

    def __init__(self, reward: RewardModel) -> None:
        super().__init__()
        self.reward = reward
        self.got: list[float] = []
        self.want: list[float] = []
        self.dones = 0

    def _on_step(self) -> bool:
        loc = self.locals
        actions = loc.get("clipped_actions", loc.get("actions"))
        prev = self.model._last_obs
        for i, (done, info) in enumerate(zip(loc["dones"], loc["infos"], strict=True)):
            nxt = info["terminal_observation"] if done else _row(loc["new_obs"], i)
            want = reference_rewards(self.reward, [_row(prev, i), nxt], [actions[i]], [0.0])
            self.got.append(float(loc["rewards"][i]))
            self.want.append(float(want[0]))
            self.dones += int(done)
        return True


def _check(callback: RewardCheck, steps: int) -> None:
    assert len(callback.got) >= steps
    np.testing.assert_allclose(callback.got, callback.want, rtol=1e-4, atol=1e-5)
    assert np.std(callback.got) > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env_id", "layout", "policy"),
    [
        ("rr_gym/PointMaze_UMaze-v3", MAZE, "MultiInputPolicy"),
        ("rr_gym/Hopper-v5", HOPPER, "MlpPolicy"),
    ],
)
def test_ppo_trains_on_the_learned_reward(
    env_id: str, layout: TransitionLayout, policy: str
) -> None:
    reward = relative_reward(layout, seed=1)
    env = gym.make(env_id, wrappers=[RelativeReward], reward_model=reward)
    agent = PPO(
        policy,
        env,
        n_steps=128,
        batch_size=64,
        n_epochs=1,
        seed=0,
        policy_kwargs={"net_arch": [16]},
        device="cpu",
    )
    callback = RewardCheck(reward)
    agent.learn(total_timesteps=256, callback=callback)
    _check(callback, 256)
    if "Hopper" in env_id:
        assert callback.dones > 0  # episode ends were scored with the terminal observation


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env_id", "layout", "policy"),
    [
        ("PointMaze_UMaze-v3", MAZE, "MultiInputPolicy"),
        ("Hopper-v5", HOPPER, "MlpPolicy"),
    ],
)
def test_sac_trains_on_the_vec_wrapper(env_id: str, layout: TransitionLayout, policy: str) -> None:
    reward = relative_reward(layout, seed=2)
    venv = VecRelativeReward(DummyVecEnv([lambda: gym.make(env_id)] * 2), reward)
    agent = SAC(
        policy,
        venv,
        learning_starts=100,
        batch_size=32,
        seed=0,
        gradient_steps=1,
        policy_kwargs={"net_arch": [16]},
        device="cpu",
    )
    callback = RewardCheck(reward)
    agent.learn(total_timesteps=200, callback=callback)
    _check(callback, 200)
    assert "Hopper" not in env_id or callback.dones > 0
    stored = agent.replay_buffer.rewards[: agent.replay_buffer.pos].reshape(-1)
    np.testing.assert_allclose(np.sort(stored), np.sort(callback.got), rtol=1e-6)
