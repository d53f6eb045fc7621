"""``VectorRelativeReward``: learned rewards for a Gymnasium vector env, one batched pass."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from rr_gym.errors import ConfigError
from rr_gym.reward_options import RewardOptions
from rr_gym.rewards.base import RewardModel
from rr_gym.wrappers.engine import (
    EngineWrapper,
    RewardEngine,
    RewardModelRef,
    resolve_reward_model,
)

__all__ = ["VectorRelativeReward"]


class VectorRelativeReward(EngineWrapper, VectorWrapper):
    """Reward every sub-environment's transition with a reward model, in one forward pass.

    Same rewards and options as :class:`~rr_gym.wrappers.RelativeReward` applied to each
    sub-environment, but the windows of all ``N`` sub-environments are scored together.

    Autoreset (``env.metadata["autoreset_mode"]``):

    - ``NEXT_STEP`` (Gymnasium's default): the step after an episode ends only resets that
      sub-environment (its action is ignored). That step is not a transition: its reward is
      0 (the env's own reward there is 0 too), ``info["_model_reward"]`` is False for it,
      and the sub-environment's window history restarts from the new observation.
    - ``SAME_STEP``: the ending step's transition ends in ``info["final_obs"][i]`` and is
      scored; the history restarts from the reset observation the step returned.
    - ``DISABLED``: every step is scored; ``reset(options={"reset_mask": m})`` restarts the
      histories of the sub-environments in ``m``.

    ``info["env_reward"]`` holds the env's rewards ``(N,)`` and ``info["model_reward"]``
    the raw model rewards ``(N,)``, each with its ``_``-prefixed mask.

    Args:
        env: a vector env with Box (or Dict-of-Box) observations and Box actions.
        reward_model: a RewardModel or the path of a saved one.
        **options: the reward options, as for :class:`~rr_gym.wrappers.RelativeReward`
            (:class:`~rr_gym.reward_options.RewardOptions`) (the running normalisation is shared
            by all sub-environments).

    Raises:
        IncompatibleModelsError: the model's layout does not fit the env's spaces.
        ConfigError: an invalid option or autoreset mode.

    Example:
        >>> import gymnasium as gym
        >>> from rr_gym.layout import TransitionLayout
        >>> from rr_gym.rewards import RelativeRewardModel
        >>> model = RelativeRewardModel(TransitionLayout.from_sizes(observation=3, action=1),
        ...                             hidden_dim=16)
        >>> envs = VectorRelativeReward(gym.make_vec("Pendulum-v1", num_envs=2), model)
        >>> _ = envs.reset(seed=0)
        >>> obs, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
        >>> bool(np.allclose(rewards, info["model_reward"]))
        True
    """

    def __init__(
        self,
        env: VectorEnv[Any, Any, Any],
        reward_model: RewardModel | str | os.PathLike[str] | RewardModelRef,
        **options: Any,
    ) -> None:
        super().__init__(env)
        opts = RewardOptions.from_kwargs(options)
        model, _ = resolve_reward_model(reward_model, device=opts.device)
        autoreset = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        try:
            self.autoreset_mode = AutoresetMode(autoreset)
        except ValueError:
            raise ConfigError(
                f"env has autoreset_mode={autoreset!r}; expected one of "
                f"{[m.value for m in AutoresetMode]}"
            ) from None
        self._engine = RewardEngine(
            model,
            env.single_observation_space,
            env.single_action_space,
            env.num_envs,
            opts,
        )
        self._pending = np.zeros(env.num_envs, dtype=bool)
        self._all = np.ones(env.num_envs, dtype=bool)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset (all, or ``options["reset_mask"]``) and restart their window histories."""
        mask = None if options is None else options.get("reset_mask")
        obs, info = self.env.reset(seed=seed, options=options)
        if mask is None:
            self._engine.reset(obs)
            self._pending[:] = False
        else:
            mask = np.asarray(mask, dtype=bool)
            self._engine.reset(obs, rows=mask)
            self._pending[mask] = False
        return obs, info

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step all sub-environments; rewards from the model (see the class docstring)."""
        obs, env_reward, terminated, truncated, info = self.env.step(actions)
        pending = self._pending
        if self.autoreset_mode is AutoresetMode.NEXT_STEP and pending.any():
            out = self._engine.step(actions, obs, env_reward, rows=~pending)
            self._engine.reset(obs, rows=pending)
        elif self.autoreset_mode is AutoresetMode.SAME_STEP:
            done = np.logical_or(terminated, truncated)
            final = None
            if done.any():
                final_obs = info.get("final_obs")
                if final_obs is None:
                    raise ConfigError(
                        "SAME_STEP autoreset env ended an episode without info['final_obs']"
                    )
                final = {int(i): final_obs[i] for i in np.flatnonzero(done)}
            out = self._engine.step(actions, obs, env_reward, final_obs=final)
            if final:
                self._engine.reset(obs, rows=done)
        else:
            out = self._engine.step(actions, obs, env_reward)
        if self.autoreset_mode is AutoresetMode.NEXT_STEP:
            np.logical_or(terminated, truncated, out=self._pending)
        info["env_reward"] = np.asarray(env_reward)
        info["_env_reward"] = self._all.copy()
        info["model_reward"] = out.model_reward
        info["_model_reward"] = out.scored
        return obs, out.reward, terminated, truncated, info
