"""MuJoCo locomotion datasets at several qualities, mirroring Minari's ``mujoco/<env>/<level>-v0``.

One PPO run (Stable-Baselines3) per env gives every level:

- ``random``: uniform random actions;
- ``medium``: the checkpoint whose evaluated return is closest to one third of the
  expert's (among checkpoints up to the expert's), rolled out;
- ``expert``: the checkpoint with the best evaluated return, rolled out;
- ``medium-replay``: PPO's own training episodes completed up to the medium checkpoint.

PPO oscillates, so checkpoints are taken every ``eval_every`` steps, each evaluated on
``eval_episodes`` episodes (fixed seeds, the same action mode as collection), and kept as
:class:`~rr_gym.data.policies.MLPPolicy` safetensors files so datasets can be regenerated.
Each dataset's metadata records its mean return, the evaluated return of its policy and
the D4RL reference scores. Training runs on one torch thread by default (faster than two
for a 64x64 MLP, and robust to a busy machine); global RNG states and the torch thread
count are restored afterwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from rr_gym.data.policies import MLPPolicy
from rr_gym.data.storage import EpisodeArrays
from rr_gym.errors import ConfigError
from rr_gym.utils.seeding import isolated_global_state

__all__ = [
    "ACTION_STD",
    "LOCOMOTION_ENV_IDS",
    "PolicySnapshot",
    "TrainingRun",
    "collect_episodes",
    "evaluate",
    "locomotion_env_id",
    "parse_levels",
    "save_checkpoint",
    "train_ppo",
]

logger = logging.getLogger(__name__)

#: Env name -> Gymnasium id.
LOCOMOTION_ENV_IDS: dict[str, str] = {
    "hopper": "Hopper-v5",
    "halfcheetah": "HalfCheetah-v5",
    "walker2d": "Walker2d-v5",
}


def locomotion_env_id(env: str) -> str:
    """Gymnasium id of ``env`` (``"hopper"``, ``"halfcheetah"``, ``"walker2d"``).

    Raises:
        ConfigError: unknown env (lists the known ones).
    """
    try:
        return LOCOMOTION_ENV_IDS[env]
    except KeyError:
        raise ConfigError(
            f"unknown locomotion env {env!r}; expected one of {list(LOCOMOTION_ENV_IDS)}"
        ) from None


@dataclass(frozen=True)
class PolicySnapshot:
    """A policy snapshot taken during training.

    Attributes:
        timestep: env steps of training when it was taken.
        eval_return: mean return over the evaluation episodes.
        eval_std: standard deviation of those returns.
        policy: the actor.
    """

    timestep: int
    eval_return: float
    eval_std: float
    policy: MLPPolicy


@dataclass(frozen=True)
class TrainingRun:
    """Result of :func:`train_ppo`.

    Attributes:
        env_id: Gymnasium id.
        seed: training seed.
        total_steps: PPO env steps.
        checkpoints: in time order.
        rollouts: PPO's training episodes, in order of completion.
        rollout_end_steps: ``(len(rollouts),)`` training step at which each ended.
        seconds: wall time of training (evaluation included).
    """

    env_id: str
    seed: int
    total_steps: int
    checkpoints: tuple[PolicySnapshot, ...]
    rollouts: list[EpisodeArrays] = field(repr=False)
    rollout_end_steps: np.ndarray = field(repr=False)
    seconds: float = 0.0

    def expert(self) -> PolicySnapshot:
        """The checkpoint with the best evaluated return (earliest on ties)."""
        if not self.checkpoints:
            raise ConfigError(
                "training produced no checkpoint; raise total_steps or lower eval_every"
            )
        return max(self.checkpoints, key=lambda c: (c.eval_return, -c.timestep))

    def medium(self, fraction: float = 1.0 / 3.0) -> PolicySnapshot:
        """The checkpoint, up to the expert's, whose return is closest to ``fraction`` of it.

        Returns are measured from 0 (D4RL's "one third of expert" convention).
        """
        expert = self.expert()
        target = fraction * expert.eval_return
        earlier = [c for c in self.checkpoints if c.timestep <= expert.timestep]
        return min(earlier, key=lambda c: (abs(c.eval_return - target), c.timestep))

    def replay_until(self, timestep: int) -> list[EpisodeArrays]:
        """Training episodes that ended at or before ``timestep``."""
        n = int(np.searchsorted(self.rollout_end_steps, timestep, side="right"))
        return self.rollouts[:n]


class _RolloutRecorder(gym.Wrapper[Any, Any, Any, Any]):
    """Records every episode the wrapped env plays (obs, executed action, reward, flags)."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.episodes: list[EpisodeArrays] = []
        self.end_steps: list[int] = []
        self.steps = 0
        self._obs: list[np.ndarray] = []
        self._act: list[np.ndarray] = []
        self._rew: list[float] = []
        self._term: list[bool] = []
        self._trunc: list[bool] = []

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._obs, self._act, self._rew, self._term, self._trunc = [obs], [], [], [], []
        return obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        self._obs.append(obs)
        self._act.append(np.asarray(action, np.float32))
        self._rew.append(float(reward))
        self._term.append(bool(terminated))
        self._trunc.append(bool(truncated))
        if terminated or truncated:
            self.episodes.append(
                _to_episode(self._obs, self._act, self._rew, self._term, self._trunc)
            )
            self.end_steps.append(self.steps)
        return obs, float(reward), bool(terminated), bool(truncated), info


def _to_episode(
    obs: list[np.ndarray],
    act: list[np.ndarray],
    rew: list[float],
    term: list[bool],
    trunc: list[bool],
) -> EpisodeArrays:
    return EpisodeArrays(
        observations=np.asarray(obs, np.float64),
        actions=np.asarray(act, np.float32),
        rewards=np.asarray(rew),
        terminations=np.asarray(term, bool),
        truncations=np.asarray(trunc, bool),
    )


#: Default standard deviation of the Gaussian noise added to the policy's mean action when
#: evaluating checkpoints and collecting medium/expert data. PPO's own learned std is large
#: after 300k steps (sampled Hopper returns ~1,400 where the mean action gets ~3,000);
#: a small fixed noise keeps the data diverse without wrecking the policy.
ACTION_STD = 0.1


def _policy_fn(
    policy: MLPPolicy | None,
    space: gym.spaces.Box,
    action_std: float | None,
    rng: np.random.Generator,
) -> Callable[[np.ndarray], np.ndarray]:
    if policy is None:
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        return lambda obs: rng.uniform(low, high).astype(np.float32)
    if action_std == 0.0:
        return lambda obs: policy.act(obs, deterministic=True)
    return lambda obs: policy.act(obs, rng=rng, noise_std=action_std)


def evaluate(
    env: gym.Env[Any, Any],
    policy: MLPPolicy,
    *,
    episodes: int,
    seed: int,
    action_std: float | None = ACTION_STD,
) -> tuple[float, float]:
    """Mean and std of the return of ``policy`` over ``episodes`` seeded episodes.

    ``action_std``: noise added to the mean action (0: deterministic; None: the policy's
    own learned std).
    """
    rng = np.random.default_rng(seed)
    act = _policy_fn(policy, env.action_space, action_std, rng)  # type: ignore[arg-type]
    returns = []
    for j in range(episodes):
        obs, _ = env.reset(seed=seed + j)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(act(obs))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns)), float(np.std(returns))


def train_ppo(
    env: str,
    *,
    total_steps: int,
    seed: int,
    eval_every: int = 10_000,
    eval_episodes: int = 5,
    action_std: float | None = ACTION_STD,
    ppo_kwargs: dict[str, Any] | None = None,
    n_threads: int | None = 1,
    progress: bool = True,
) -> TrainingRun:
    """Train SB3 PPO (``MlpPolicy``) on a locomotion env, keeping evaluated checkpoints.

    Args:
        env: ``"hopper"``, ``"halfcheetah"`` or ``"walker2d"``.
        total_steps: PPO env steps.
        seed: seeds PPO, its env and the evaluation episodes.
        eval_every: steps between checkpoints (each evaluated).
        eval_episodes: evaluation episodes per checkpoint.
        action_std: evaluation noise on the mean action (0: deterministic; None: the
            policy's own learned std).
        ppo_kwargs: extra keyword arguments for ``stable_baselines3.PPO``.
        n_threads: torch threads during training (None: leave as is).
        progress: show a tqdm bar.

    Returns:
        :class:`TrainingRun` with checkpoints and the recorded training episodes.
    """
    env_id = locomotion_env_id(env)
    if total_steps < 1 or eval_every < 1 or eval_episodes < 1:
        raise ConfigError(
            f"total_steps={total_steps}, eval_every={eval_every}, eval_episodes="
            f"{eval_episodes}; expected positive ints"
        )
    # Everything, imports included (some consume global RNGs), runs inside the isolation.
    with isolated_global_state(n_threads):
        return _train_ppo(
            env_id,
            total_steps=total_steps,
            seed=seed,
            eval_every=eval_every,
            eval_episodes=eval_episodes,
            action_std=action_std,
            ppo_kwargs=ppo_kwargs,
            progress=progress,
        )


def _train_ppo(
    env_id: str,
    *,
    total_steps: int,
    seed: int,
    eval_every: int,
    eval_episodes: int,
    action_std: float | None,
    ppo_kwargs: dict[str, Any] | None,
    progress: bool,
) -> TrainingRun:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    recorder = _RolloutRecorder(gym.make(env_id))
    eval_env = gym.make(env_id)
    checkpoints: list[PolicySnapshot] = []
    eval_seed = 10_000 + 1_000 * int(seed)
    bar = tqdm(
        total=total_steps, desc=f"PPO {env_id}", unit="step", disable=not progress, mininterval=1.0
    )

    class _EvalCallback(BaseCallback):  # type: ignore[misc]
        def _on_step(self) -> bool:
            bar.update(1)
            t = self.num_timesteps
            if t % eval_every == 0 or t == total_steps:
                info = {"env_id": env_id, "timestep": t, "seed": int(seed)}
                policy = MLPPolicy.from_sb3(self.model.policy, info=info)
                mean, std = evaluate(
                    eval_env, policy, episodes=eval_episodes, seed=eval_seed, action_std=action_std
                )
                policy.info["eval_return"] = mean
                checkpoints.append(PolicySnapshot(t, mean, std, policy))
                bar.set_postfix(eval_return=f"{mean:.0f}")
                logger.info("%s step %d: eval return %.1f +- %.1f", env_id, t, mean, std)
            return True

    t0 = time.perf_counter()
    with bar:
        model = PPO(
            "MlpPolicy", recorder, seed=int(seed), verbose=0, device="cpu", **(ppo_kwargs or {})
        )
        model.learn(total_timesteps=total_steps, callback=_EvalCallback())
    seconds = time.perf_counter() - t0
    eval_env.close()
    recorder.close()
    return TrainingRun(
        env_id=env_id,
        seed=int(seed),
        total_steps=int(total_steps),
        checkpoints=tuple(checkpoints),
        rollouts=recorder.episodes,
        rollout_end_steps=np.asarray(recorder.end_steps, np.int64),
        seconds=seconds,
    )


def collect_episodes(
    env_id: str,
    policy: MLPPolicy | None,
    *,
    steps: int,
    seed: int,
    action_std: float | None = ACTION_STD,
    progress: bool = True,
    desc: str = "collect",
) -> Iterator[EpisodeArrays]:
    """Roll out ``policy`` (None: uniform random actions) for ``steps`` transitions.

    The env is seeded at its first reset; action noise (``action_std`` on the mean action;
    0: none; None: the policy's learned std) comes from ``np.random.default_rng(seed)``.
    The last episode is truncated to fit ``steps``.

    Yields:
        One :class:`~rr_gym.data.storage.EpisodeArrays` per episode.
    """
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    act = _policy_fn(policy, env.action_space, action_std, rng)  # type: ignore[arg-type]
    done_steps = 0
    first = True
    with tqdm(total=steps, desc=desc, unit="step", disable=not progress, mininterval=1.0) as bar:
        while done_steps < steps:
            obs, _ = env.reset(seed=int(seed) if first else None)
            first = False
            o, a, r, te, tr = [obs], [], [], [], []
            while True:
                action = act(obs)
                obs, reward, terminated, truncated, _ = env.step(action)
                done_steps += 1
                truncated = bool(truncated) or done_steps >= steps
                o.append(obs)
                a.append(action)
                r.append(float(reward))
                te.append(bool(terminated))
                tr.append(truncated)
                if terminated or truncated:
                    break
            bar.update(len(r))
            yield _to_episode(o, a, r, te, tr)
    env.close()


def save_checkpoint(checkpoint: PolicySnapshot, path: Path, extra: dict[str, Any]) -> Path:
    """Save a checkpoint's policy with its evaluation facts in the file's metadata."""
    policy = checkpoint.policy
    info = {
        **policy.info,
        "timestep": checkpoint.timestep,
        "eval_return": checkpoint.eval_return,
        "eval_std": checkpoint.eval_std,
        **extra,
    }
    saved = MLPPolicy(
        weights=policy.weights,
        biases=policy.biases,
        log_std=policy.log_std,
        activation=policy.activation,
        action_low=policy.action_low,
        action_high=policy.action_high,
        info=info,
    )
    return saved.save(path)


def parse_levels(levels: str | Sequence[str]) -> tuple[str, ...]:
    """Split ``"medium,expert"`` (or pass a sequence) and check every level exists."""
    from rr_gym.data.ids import LOCOMOTION_LEVELS

    items = [s.strip() for s in levels.split(",")] if isinstance(levels, str) else list(levels)
    items = [s for s in items if s]
    if "all" in items:
        return LOCOMOTION_LEVELS
    bad = [s for s in items if s not in LOCOMOTION_LEVELS]
    if bad or not items:
        raise ConfigError(
            f"levels {items!r}; expected a non-empty subset of {list(LOCOMOTION_LEVELS)} (or 'all')"
        )
    return tuple(dict.fromkeys(items))
