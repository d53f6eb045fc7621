"""Retraining: fresh SB3 agents trained only on a learned reward, scored on the true return.

The agent's env is an SB3 ``VecEnv`` of the pair's task env with its reward replaced by the
reward model (:class:`rr_gym.wrappers.VecRelativeReward`, ``mode="replace"``, running
normalisation on, every sub-environment scored in one call); dict observations (PointMaze)
are reduced to their ``observation`` entry for the agent. A pair's
``sizes.retrain.vec_normalize`` wraps that env in SB3's ``VecNormalize`` (as RL Zoo trains
its MuJoCo agents); the policy is then evaluated on observations normalised with the
statistics it was trained with.
Evaluation runs the trained policy (deterministic) in the untouched task env and records
the env's own return, normalised ``100 * (R - R_random) / (R_expert - R_random)`` with the
task's reference scores.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from rr_gym.bench.context import row
from rr_gym.bench.pairs import PairSpec
from rr_gym.envs.rollouts import EpisodeStats, evaluate_policy
from rr_gym.errors import ConfigError

__all__ = [
    "ALGORITHMS",
    "ArrayPolicy",
    "evaluate_returns",
    "retrain_unit",
    "reward_venv",
    "train_agent",
    "vec_normalize_problem",
]

logger = logging.getLogger(__name__)

#: SB3 algorithms the ``agent`` config group may name.
ALGORITHMS = ("ppo", "sac")

#: Keyword arguments of SB3's ``VecNormalize`` that ``sizes.retrain.vec_normalize`` may set.
VEC_NORMALIZE_OPTIONS = ("norm_obs", "norm_reward", "clip_obs", "clip_reward", "gamma", "epsilon")


def vec_normalize_problem(value: Any) -> str | None:
    """None when ``value`` is a mapping of :data:`VEC_NORMALIZE_OPTIONS`, else what is wrong
    (the check of ``sizes.retrain.vec_normalize``, before a run and in :func:`reward_venv`).

    >>> vec_normalize_problem({"norm_obs": True}) is None
    True
    >>> vec_normalize_problem({"norm_obsx": True})[:22]
    "unknown ['norm_obsx'];"
    """
    expected = f"expected SB3 VecNormalize options among {list(VEC_NORMALIZE_OPTIONS)}"
    if not isinstance(value, Mapping):
        return expected
    unknown = sorted(set(value) - set(VEC_NORMALIZE_OPTIONS))
    return f"unknown {unknown}; {expected}" if unknown else None


def reward_venv(
    pair: PairSpec,
    reward: Any,
    wrapper_options: dict[str, Any] | None = None,
    *,
    n_envs: int = 1,
    seed: int = 0,
    vec_normalize: dict[str, Any] | None = None,
) -> Any:
    """The agent's SB3 ``VecEnv``: ``n_envs`` task envs, the reward replaced by ``reward``
    (scored for every sub-environment in one call), flat observations.

    A reward that reads dict observations (``layout.observation_key``) wraps the vec env
    before the observation is reduced; a flat-layout reward (GAIL, AIRL) after. One running
    normalisation covers all sub-environments. ``reward=None`` keeps the env's own reward.

    ``vec_normalize`` (keyword arguments of SB3's ``VecNormalize``, e.g. ``{"norm_obs":
    True, "norm_reward": True}``) wraps the result in ``VecNormalize``. With ``norm_reward``
    it scales every reward, the env's own and learned ones alike, so the reward wrapper's
    own normalisation is turned off: one normalisation, the same for every agent.

    Raises:
        ConfigError: ``vec_normalize`` names an option outside
            :data:`VEC_NORMALIZE_OPTIONS` (:func:`vec_normalize_problem`).
    """
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecExtractDictObs, VecNormalize

    from rr_gym.wrappers import VecRelativeReward

    vec_normalize = dict(vec_normalize or {})
    if problem := vec_normalize_problem(vec_normalize):
        raise ConfigError(f"sizes.retrain.vec_normalize={vec_normalize!r}; {problem}")
    venv = make_vec_env(lambda: pair.kind_impl.make_env(pair), n_envs=n_envs, seed=seed)
    key = pair.kind_impl.observation_key

    def flat(v: Any) -> Any:
        return VecExtractDictObs(v, key) if key is not None else v

    scales_reward = bool(vec_normalize) and vec_normalize.get("norm_reward", True)  # SB3's default
    if reward is None:
        venv = flat(venv)
    else:
        options = {"mode": "replace", "normalize": True, **(wrapper_options or {})}
        if scales_reward:
            options["normalize"] = False
        if getattr(reward.layout, "observation_key", None) is not None:
            venv = flat(VecRelativeReward(venv, reward, **options))
        else:
            venv = VecRelativeReward(flat(venv), reward, **options)
    return VecNormalize(venv, **vec_normalize) if vec_normalize else venv


def _progress_callback(total: int, desc: str, disable: bool) -> Any:
    """An SB3 callback feeding a tqdm bar over env steps (SB3's own bar needs ``rich``)."""
    from stable_baselines3.common.callbacks import BaseCallback

    class TqdmCallback(BaseCallback):
        def _on_training_start(self) -> None:
            self.bar = tqdm(total=total, desc=desc, unit="step", disable=disable, leave=False)

        def _on_step(self) -> bool:
            self.bar.update(self.training_env.num_envs)
            return True

        def _on_training_end(self) -> None:
            self.bar.close()

    return TqdmCallback()


def train_agent(
    venv: Any,
    *,
    algo: str,
    timesteps: int,
    seed: int,
    kwargs: dict[str, Any] | None = None,
    device: str = "cpu",
    progress: bool = True,
    desc: str = "retrain",
    callback: Any = None,
) -> Any:
    """Train an SB3 agent (``"ppo"`` or ``"sac"``, ``MlpPolicy``) on ``venv``'s reward.

    Args:
        venv: an SB3 ``VecEnv`` (its reward is what the agent maximises; closed after).
        algo: ``"ppo"`` or ``"sac"``.
        timesteps: env steps (over all sub-environments).
        seed: seeds the agent.
        kwargs: more keyword arguments of the SB3 class.
        device: torch device.
        progress: show a bar over env steps.
        desc: the bar's label.
        callback: one more SB3 callback (e.g. checkpoint evaluations), after the bar's.

    Returns:
        The trained SB3 model.

    Raises:
        ConfigError: an unknown ``algo``.
    """
    from stable_baselines3 import PPO, SAC

    classes = {"ppo": PPO, "sac": SAC}
    if algo not in classes:
        venv.close()
        raise ConfigError(f"agent algo={algo!r}; expected one of {list(ALGORITHMS)}")
    model = classes[algo]("MlpPolicy", venv, seed=seed, device=device, verbose=0, **(kwargs or {}))
    callbacks = [_progress_callback(timesteps, desc, not progress)]
    model.learn(
        total_timesteps=int(timesteps),
        callback=callbacks + ([callback] if callback is not None else []),
    )
    venv.close()
    return model


class ArrayPolicy:
    """``predict(obs, episode_start=...)`` of a function of flat observation batches.

    Args:
        act: ``(B, o) -> (B, a)`` actions.
        observation_key: the entry of dict observations to read (None: flat).
    """

    def __init__(
        self, act: Callable[[np.ndarray], np.ndarray], observation_key: str | None
    ) -> None:
        self.act = act
        self.observation_key = observation_key

    def predict(self, observation: Any, *, episode_start: np.ndarray | None = None) -> np.ndarray:
        """Actions ``(B, a)`` for a batch of observations."""
        del episode_start
        obs = observation[self.observation_key] if self.observation_key else observation
        return np.asarray(self.act(np.asarray(obs, np.float32)))

    @classmethod
    def from_sb3(cls, model: Any, observation_key: str | None = None) -> ArrayPolicy:
        """The deterministic policy of an SB3 model; when the model trained on a
        ``VecNormalize`` env, its observations are normalised with that env's statistics
        (read, not updated)."""
        from stable_baselines3.common.vec_env import VecNormalize

        env = model.get_env()
        if isinstance(env, VecNormalize):

            def act(obs: np.ndarray) -> np.ndarray:
                return model.predict(env.normalize_obs(obs), deterministic=True)[0]

            return cls(act, observation_key)
        return cls(lambda obs: model.predict(obs, deterministic=True)[0], observation_key)


def evaluate_returns(
    pair: PairSpec, policy: Any, *, episodes: int, n_envs: int, seed: int, progress: bool = False
) -> EpisodeStats:
    """Run ``policy`` (``predict(obs, episode_start=...)`` on dict or flat observations, as
    the task env gives them) for ``episodes`` episodes of the untouched task env."""
    n = max(1, min(int(n_envs), int(episodes)))
    envs = gym.vector.SyncVectorEnv([lambda: pair.kind_impl.make_env(pair)] * n)
    try:
        return evaluate_policy(policy, envs, int(episodes), seed=seed, progress=progress)
    finally:
        envs.close()


def retrain_unit(
    pair: PairSpec,
    method: str,
    seed: int,
    model: Any,
    produces: str,
    agent: dict[str, Any],
    summaries: dict[str, dict[str, Any]],
    *,
    device: str = "cpu",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train an agent on ``model`` (or evaluate a policy) and return the result rows.

    The agent's keyword arguments are ``agent.kwargs`` updated with the pair's
    ``sizes.retrain.agent_kwargs`` (a task may need its own PPO settings).

    Rows (metric prefix ``retrain/<agent>/``): ``return`` (mean true return),
    ``normalized_return`` (reference scores), ``success_rate`` (when the env reports it),
    and ``return_vs_data`` (``100 * (R - R_base) / (R_expert - R_base)`` with the mean
    episode returns of the pair's own datasets, locomotion only).
    """
    import time

    tick = time.perf_counter()
    sizes = pair.sizes.get("retrain") or {}
    key = pair.kind_impl.observation_key
    name = str(agent.get("name", agent.get("algo", "ppo")))
    if produces == "policy":
        policy = ArrayPolicy(lambda obs: model.predict(obs), key)
    else:
        venv = reward_venv(
            pair,
            model,
            agent.get("wrapper"),
            n_envs=int(sizes.get("n_envs", 1)),
            seed=seed,
            vec_normalize=sizes.get("vec_normalize"),
        )
        trained = train_agent(
            venv,
            algo=str(agent.get("algo", "ppo")),
            timesteps=int(sizes.get("timesteps", 10_000)),
            seed=seed,
            kwargs={**(agent.get("kwargs") or {}), **(sizes.get("agent_kwargs") or {})},
            device=device,
            progress=progress,
            desc=f"{name} on {method}",
        )
        policy = ArrayPolicy.from_sb3(trained, key)
    stats = evaluate_returns(
        pair,
        policy,
        episodes=int(sizes.get("eval_episodes", 10)),
        n_envs=int(sizes.get("eval_envs", 5)),
        seed=10_000 + seed,
    )
    seconds = time.perf_counter() - tick
    prefix = f"retrain/{name}/"
    values = {
        "return": float(stats.returns.mean()),
        "normalized_return": pair.normalized_score(stats.returns),
    }
    if stats.successes.any() or pair.kind == "maze":
        values["success_rate"] = stats.success_rate
    base_r, expert_r = (summaries.get(r, {}).get("mean_return") for r in ("base", "expert"))
    known = base_r is not None and expert_r is not None and expert_r != base_r
    if pair.kind_impl.exact_dataset_reward and known:
        values["return_vs_data"] = 100.0 * (values["return"] - base_r) / (expert_r - base_r)
    return [row(pair.name, method, seed, prefix + k, v, seconds) for k, v in values.items()]
