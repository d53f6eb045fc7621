"""``VecRelativeReward``: learned rewards for a Stable-Baselines3 ``VecEnv``.

Imported lazily by :mod:`rr_gym.wrappers`, so rr_gym's other wrappers never import SB3.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from rr_gym.reward_options import RewardOptions
from rr_gym.rewards.base import RewardModel
from rr_gym.wrappers.engine import (
    EngineWrapper,
    RewardEngine,
    RewardModelRef,
    resolve_reward_model,
)

__all__ = ["VecRelativeReward"]


class VecRelativeReward(EngineWrapper, VecEnvWrapper):
    """Reward every sub-environment's transition with a reward model, in one forward pass.

    Same rewards and options as :class:`~rr_gym.wrappers.RelativeReward` on each
    sub-environment. SB3 vec envs reset an ended sub-environment in the same step; the
    ending transition is scored with ``info["terminal_observation"]`` as its next
    observation and the window history restarts from the reset observation. Each
    ``infos[i]`` gets ``"env_reward"`` and ``"model_reward"``. Put it below
    ``VecNormalize`` (which would otherwise normalise the env's reward, not the learned one).

    Args:
        venv: an SB3 VecEnv with Box (or Dict-of-Box) observations and Box actions.
        reward_model: a RewardModel or the path of a saved one.
        **options: the reward options, as for :class:`~rr_gym.wrappers.RelativeReward`
            (:class:`~rr_gym.reward_options.RewardOptions`).

    Raises:
        IncompatibleModelsError: the model's layout does not fit the env's spaces.

    Example:
        >>> import gymnasium as gym
        >>> from stable_baselines3.common.vec_env import DummyVecEnv
        >>> from rr_gym.layout import TransitionLayout
        >>> from rr_gym.rewards import RelativeRewardModel
        >>> model = RelativeRewardModel(TransitionLayout.from_sizes(observation=3, action=1),
        ...                             hidden_dim=16)
        >>> venv = VecRelativeReward(DummyVecEnv([lambda: gym.make("Pendulum-v1")] * 2), model)
        >>> _ = venv.reset()
        >>> obs, rewards, dones, infos = venv.step(np.zeros((2, 1), dtype=np.float32))
        >>> bool(np.allclose(rewards, [i["model_reward"] for i in infos]))
        True
    """

    def __init__(
        self,
        venv: VecEnv,
        reward_model: RewardModel | str | os.PathLike[str] | RewardModelRef,
        **options: Any,
    ) -> None:
        super().__init__(venv)
        opts = RewardOptions.from_kwargs(options)
        model, _ = resolve_reward_model(reward_model, device=opts.device)
        self._engine = RewardEngine(
            model,
            venv.observation_space,
            venv.action_space,
            venv.num_envs,
            opts,
        )
        self._actions: np.ndarray | None = None

    def reset(self) -> VecEnvObs:
        """Reset all sub-environments and their window histories."""
        obs = self.venv.reset()
        self._engine.reset(obs)
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions (they are part of the transitions) and send them."""
        self._actions = np.array(actions, copy=True)
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Wait for the step; rewards from the model (see the class docstring)."""
        obs, env_reward, dones, infos = self.venv.step_wait()
        final: dict[int, Any] = {}
        for i in np.flatnonzero(dones):
            terminal = infos[i].get("terminal_observation")
            if terminal is not None:
                final[int(i)] = terminal
        out = self._engine.step(self._actions, obs, env_reward, final_obs=final or None)
        if dones.any():
            self._engine.reset(obs, rows=np.asarray(dones, dtype=bool))
        for i, info in enumerate(infos):
            info["env_reward"] = float(env_reward[i])
            info["model_reward"] = float(out.model_reward[i])
        return obs, out.reward.astype(np.float32), dones, infos
