"""Run a policy (a planner, or anything with ``predict``) for N episodes on a (vector) env."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from tqdm.auto import tqdm

from rr_gym.errors import ConfigError

__all__ = ["EpisodeStats", "Policy", "evaluate_policy"]


class Policy(Protocol):
    """What :func:`evaluate_policy` drives: batched ``predict`` with episode starts."""

    def predict(self, observation: Any, *, episode_start: np.ndarray | None = None) -> np.ndarray:
        """Actions ``(B, action_dim)`` for a batch of observations."""
        ...


@dataclass
class EpisodeStats:
    """Per-episode results of :func:`evaluate_policy` and the policy's speed.

    Attributes:
        returns: ``(N,)`` undiscounted episode returns (the env's reward).
        lengths: ``(N,)`` episode lengths.
        successes: ``(N,)`` whether ``info[success_key]`` was true at any step of the episode
            (all False when the env never reports it).
        decisions_per_s: actions produced per second of time spent in ``predict``.
        seconds: wall time of the evaluation.
    """

    returns: np.ndarray
    lengths: np.ndarray
    successes: np.ndarray
    decisions_per_s: float
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def success_rate(self) -> float:
        """Fraction of episodes with a success."""
        return float(self.successes.mean()) if len(self.successes) else 0.0

    def summary(self) -> dict[str, float]:
        """Means and spreads, JSON-friendly."""
        return {
            "episodes": float(len(self.returns)),
            "return_mean": float(self.returns.mean()),
            "return_std": float(self.returns.std()),
            "length_mean": float(self.lengths.mean()),
            "success_rate": self.success_rate,
            "decisions_per_s": self.decisions_per_s,
            "seconds": self.seconds,
        }


def evaluate_policy(
    policy: Policy,
    env: gym.Env[Any, Any] | gym.vector.VectorEnv[Any, Any],
    n_episodes: int,
    *,
    seed: int | None = None,
    reset_options: dict[str, Any] | None = None,
    success_key: str = "success",
    progress: bool = True,
) -> EpisodeStats:
    """Run ``policy`` until ``n_episodes`` episodes have finished.

    A vector env runs its sub-environments in lock step; each is given an equal share of the
    episodes (as SB3's ``evaluate_policy`` does) so that short episodes are not
    over-represented. Autoreset steps (Gymnasium's next-step mode) are skipped.

    Args:
        policy: anything with ``predict(obs, episode_start=...) -> actions``.
        env: a single env or a vector env.
        n_episodes: episodes to collect.
        seed: seed of the first reset.
        reset_options: options of the first reset (e.g. PointMaze's ``goal_cell``).
        success_key: the info entry that flags success.
        progress: show a progress bar over episodes.

    Returns:
        Returns, lengths and successes of the episodes, and the decisions per second.
    """
    if n_episodes < 1:
        raise ConfigError(f"n_episodes={n_episodes}; expected >= 1")
    vector = isinstance(env, gym.vector.VectorEnv)
    n_envs = env.num_envs if vector else 1
    mode = env.metadata.get("autoreset_mode", gym.vector.AutoresetMode.NEXT_STEP)
    if vector and mode == gym.vector.AutoresetMode.DISABLED:
        raise ConfigError(
            "the vector env's autoreset_mode is DISABLED; evaluate_policy needs NEXT_STEP or "
            "SAME_STEP (Gymnasium's default is NEXT_STEP)"
        )
    next_step_reset = vector and mode == gym.vector.AutoresetMode.NEXT_STEP
    targets = np.array([(n_episodes + i) // n_envs for i in range(n_envs)])
    obs, _ = env.reset(seed=seed, options=reset_options)
    returns: list[float] = []
    lengths: list[int] = []
    successes: list[bool] = []
    ep_return = np.zeros(n_envs)
    ep_length = np.zeros(n_envs, dtype=np.int64)
    ep_success = np.zeros(n_envs, dtype=bool)
    counts = np.zeros(n_envs, dtype=np.int64)
    starting = np.ones(n_envs, dtype=bool)
    resetting = np.zeros(n_envs, dtype=bool)  # this step is a next-step autoreset
    decisions, predict_s = 0, 0.0
    start = time.perf_counter()
    with tqdm(total=n_episodes, desc="episodes", disable=not progress) as bar:
        while (counts < targets).any():
            tick = time.perf_counter()
            actions = policy.predict(obs if vector else _batched(obs), episode_start=starting)
            predict_s += time.perf_counter() - tick
            decisions += n_envs
            if vector:
                obs, reward, terminated, truncated, info = env.step(actions)
            else:
                obs, r, term, trunc, info = env.step(actions[0])
                reward, terminated, truncated = np.array([r]), np.array([term]), np.array([trunc])
                info = {key: np.array([value]) for key, value in info.items()}
            live = ~resetting
            ep_return[live] += np.asarray(reward, dtype=np.float64)[live]
            ep_length[live] += 1
            if success_key in info:
                ep_success[live] |= np.asarray(info[success_key], dtype=bool)[live]
            done = (np.asarray(terminated) | np.asarray(truncated)) & live
            for i in np.flatnonzero(done):
                if counts[i] < targets[i]:
                    returns.append(float(ep_return[i]))
                    lengths.append(int(ep_length[i]))
                    successes.append(bool(ep_success[i]))
                    counts[i] += 1
                    bar.update(1)
            ep_return[done], ep_length[done], ep_success[done] = 0.0, 0, False
            if not vector and done[0] and counts[0] < targets[0]:
                obs, _ = env.reset(options=reset_options)
            # A new episode starts with the observation the reset returned: right away, or
            # one step later when the vector env resets on the next step.
            starting = (done | resetting) if next_step_reset else done
            resetting = done if next_step_reset else np.zeros(n_envs, dtype=bool)
    return EpisodeStats(
        returns=np.asarray(returns, dtype=np.float64),
        lengths=np.asarray(lengths, dtype=np.int64),
        successes=np.asarray(successes, dtype=bool),
        decisions_per_s=decisions / predict_s if predict_s > 0 else float("inf"),
        seconds=time.perf_counter() - start,
    )


def _batched(obs: Any) -> Any:
    """A single env's observation as a batch of one."""
    if isinstance(obs, dict):
        return {key: np.asarray(value)[None] for key, value in obs.items()}
    return np.asarray(obs)[None]
