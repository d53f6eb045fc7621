"""``RelativeReward``: a Gymnasium wrapper whose reward comes from an rr_gym reward model."""

from __future__ import annotations

import multiprocessing
import os
import re
from typing import Any, SupportsFloat

import gymnasium as gym
import torch

from rr_gym.errors import ConfigError
from rr_gym.reward_options import RewardOptions
from rr_gym.rewards.base import RewardModel
from rr_gym.wrappers.engine import (
    EngineWrapper,
    RewardEngine,
    RewardModelRef,
    resolve_reward_model,
)

__all__ = ["RelativeReward"]


class RelativeReward(
    EngineWrapper,
    gym.Wrapper[Any, Any, Any, Any],
    gym.utils.RecordConstructorArgs,
):
    """Reward each transition with a reward model at diffusion step 0.

    The transition ``(obs, action, next_obs)`` is built in the model's layout (dict
    observations such as PointMaze's are read through ``layout.observation_key``), raw, and
    normalised by the model's own normaliser. A model with ``window > 1`` scores the last
    ``window`` transitions of the episode; the history starts empty at every ``reset`` and
    is padded by repeating the episode's first transition until it is full. Works with any
    :class:`~rr_gym.rewards.RewardModel`: relative rewards, IRL baselines, the true reward.

    ``info`` keeps the env's own reward as ``info["env_reward"]`` and the raw model
    output as ``info["model_reward"]``.

    Errors about a step (a NaN observation, a non-finite model output) name the env by
    :attr:`env_index`. Inside a worker of Gymnasium's ``AsyncVectorEnv`` (e.g.
    ``gym.make_vec(..., vectorization_mode="async", wrappers=[RelativeReward])``) it is the
    worker's index, found at construction; elsewhere it is 0. In such a worker the wrapper
    sets torch to one thread (``torch.set_num_threads(1)``, that process only): a forked
    worker entering the parent's OpenMP thread pool hangs, and ``N`` workers with all
    threads each would oversubscribe the cores. Nothing else changes torch's threads. In a
    ``SyncVectorEnv`` set the index with
    ``envs.set_attr("env_index", list(range(envs.num_envs)))``.

    The wrapper records JSON-friendly constructor arguments, so ``gym.make(env.spec)``
    rebuilds it when ``reward_model`` is a checkpoint path. An in-memory model is kept in
    the spec as a :class:`~rr_gym.wrappers.engine.RewardModelRef`: ``gym.make(env.spec)``
    works in the same process, ``env.spec.to_json()`` does not (as with Gymnasium's own
    wrappers that take callables).

    Args:
        env: the environment (Box or Dict-of-Box observations, Box actions).
        reward_model: a RewardModel or the path of a saved one. ``None`` only inside
            ``gym.make_vec("rr_gym/...", wrappers=[RelativeReward], reward_model=...)``,
            where it (and any option below) comes from the ``make`` keyword arguments.
        **options: the reward options, the fields of
            :class:`~rr_gym.reward_options.RewardOptions`: ``mode`` (``"replace"`` the env's
            reward or ``"add"`` to it), ``scale``, ``normalize`` (by a running standard
            deviation), ``norm_center``, ``norm_clip``, ``nan_policy`` (``"raise"`` or
            ``"zero"``), ``backend`` and ``device`` (where a checkpoint path is loaded).

    Raises:
        IncompatibleModelsError: the model's layout (or recorded spaces) does not fit the
            env; the message names both shapes.
        ConfigError: an invalid option.

    Example:
        An (untrained) reward of PointMaze's ``observation`` entry and action, then the
        three lines that use it:

        >>> from rr_gym.layout import TransitionLayout
        >>> from rr_gym.rewards import RelativeRewardModel
        >>> layout = TransitionLayout.from_sizes(observation=4, action=2)
        >>> model = RelativeRewardModel(layout, hidden_dim=16)
        >>> env = gym.make("rr_gym/PointMaze_UMaze-v3", wrappers=[RelativeReward],
        ...                reward_model=model)  # or reward_model="path/to/checkpoint"
        >>> obs, info = env.reset(seed=0)
        >>> obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        >>> reward == info["model_reward"], "env_reward" in info
        (True, True)
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        reward_model: RewardModel | str | os.PathLike[str] | RewardModelRef | None = None,
        **options: Any,
    ) -> None:
        worker = _async_worker_index()
        if worker is not None:
            # A forked worker must not enter an OpenMP parallel region: with the parent's
            # thread pool already started, libgomp hangs there. One thread per worker also
            # keeps N workers from oversubscribing the cores.
            torch.set_num_threads(1)
        if reward_model is None:
            reward_model, options = _from_make_kwargs(env, options)
        opts = RewardOptions.from_kwargs(options)
        model, recorded = resolve_reward_model(reward_model, device=opts.device)
        gym.utils.RecordConstructorArgs.__init__(
            self, reward_model=recorded, **opts.as_kwargs(), _disable_deepcopy=True
        )
        gym.Wrapper.__init__(self, env)
        self._engine = RewardEngine(model, env.observation_space, env.action_space, 1, opts)
        self._engine.first_env_index = worker or 0

    @property
    def env_index(self) -> int:
        """This env's index in a vector env, used in error messages (0 when alone)."""
        return self._engine.first_env_index

    @env_index.setter
    def env_index(self, index: int) -> None:
        self._engine.first_env_index = int(index)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset the env and the window history."""
        obs, info = self.env.reset(seed=seed, options=options)
        self._engine.reset(obs)
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env; the reward is the learned one (``mode``), ``info`` keeps the env's."""
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        out = self._engine.step(action, obs, env_reward)
        info["env_reward"] = env_reward
        info["model_reward"] = float(out.model_reward[0])
        return obs, float(out.reward[0]), terminated, truncated, info


#: Gymnasium names AsyncVectorEnv's processes ``Worker<AsyncVectorEnv>-<index>``.
_WORKER_NAME = re.compile(r"Worker<[^>]*>-(\d+)")


def _async_worker_index() -> int | None:
    """The sub-env index of this process when it is an AsyncVectorEnv worker, else None."""
    match = _WORKER_NAME.fullmatch(multiprocessing.current_process().name)
    return int(match.group(1)) if match else None


def _from_make_kwargs(env: gym.Env[Any, Any], given: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """``reward_model`` and the options held back by an ``rr_gym/...`` env's ``make`` call,
    merged with the options ``given`` to the wrapper itself."""
    from rr_gym.envs.registration import held_wrapper_kwargs

    held = held_wrapper_kwargs(env)
    if held.get("reward_model") is None:
        raise ConfigError(
            "RelativeReward needs reward_model (a RewardModel or a checkpoint path); none was "
            "given, and the env was not made with gym.make('rr_gym/...', reward_model=...)"
        )
    for name, value in given.items():
        if name in held and held[name] != value:
            raise ConfigError(
                f"RelativeReward got {name}={value!r} but the make call gave "
                f"{name}={held[name]!r}; give it in one place"
            )
    options = {k: v for k, v in held.items() if k != "reward_model"}
    return held["reward_model"], {**options, **given}
