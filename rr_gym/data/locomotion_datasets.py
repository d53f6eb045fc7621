"""Building the locomotion datasets (random, medium, medium-replay, expert) for one env.

:func:`generate_locomotion` trains PPO once (:func:`~rr_gym.data.locomotion.train_ppo`),
saves the medium and expert policies as safetensors files under
``<minari root>/rr_gym/policies/<env>-seed<seed>/``, and writes each requested level as a
Minari dataset ``rr_gym/<env>-<level>-v0``. With ``policy_dir`` pointing at saved policies
the medium and expert datasets are rolled out again without training (medium-replay
needs the training run itself, so it always trains).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rr_gym._version import __version__
from rr_gym.data.ids import LOCOMOTION_LEVELS, locomotion_dataset_id
from rr_gym.data.locomotion import (
    ACTION_STD,
    TrainingRun,
    collect_episodes,
    locomotion_env_id,
    parse_levels,
    save_checkpoint,
    train_ppo,
)
from rr_gym.data.policies import MLPPolicy
from rr_gym.data.reference import REFERENCE_SCORES
from rr_gym.data.storage import DatasetWriter, WriteResult, datasets_root
from rr_gym.errors import ConfigError

__all__ = ["LocomotionResult", "default_policy_dir", "generate_locomotion"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LocomotionResult:
    """What :func:`generate_locomotion` built.

    Attributes:
        env: env name (``"hopper"``).
        datasets: level -> what was written.
        policy_paths: ``"medium"``/``"expert"`` -> safetensors file used.
        policy_returns: ``"medium"``/``"expert"`` -> evaluated return of that policy.
        training_seconds: PPO wall time (0 when no training ran).
        training_steps: PPO env steps (0 when no training ran).
        seconds: total wall time.
    """

    env: str
    datasets: dict[str, WriteResult]
    policy_paths: dict[str, Path]
    policy_returns: dict[str, float]
    training_seconds: float
    training_steps: int
    seconds: float


def default_policy_dir(env: str, seed: int) -> Path:
    """``<minari root>/rr_gym/policies/<env>-seed<seed>``."""
    return datasets_root() / "rr_gym" / "policies" / f"{env}-seed{seed}"


def generate_locomotion(
    env: str,
    *,
    levels: str | Sequence[str] = ("random", "medium", "medium-replay", "expert"),
    train_steps: int = 300_000,
    steps_per_level: int = 200_000,
    seed: int = 0,
    eval_every: int = 10_000,
    eval_episodes: int = 5,
    action_std: float | None = ACTION_STD,
    medium_fraction: float = 1.0 / 3.0,
    ppo_kwargs: dict[str, Any] | None = None,
    policy_dir: str | Path | None = None,
    reuse_policies: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> LocomotionResult:
    """Build the requested locomotion datasets for ``env``.

    Args:
        env: ``"hopper"``, ``"halfcheetah"`` or ``"walker2d"``.
        levels: subset of random, medium, medium-replay, expert (or ``"a,b"``).
        train_steps: PPO env steps (the training budget).
        steps_per_level: transitions of the random, medium and expert datasets
            (medium-replay has whatever PPO played up to the medium checkpoint).
        seed: seeds PPO, evaluation and collection (each level gets its own stream).
        eval_every: steps between evaluated checkpoints.
        eval_episodes: episodes per checkpoint evaluation.
        action_std: Gaussian noise on the mean action for evaluation and collection
            (0: deterministic; None: PPO's own learned std).
        medium_fraction: medium = checkpoint closest to this fraction of expert return.
        ppo_kwargs: extra ``stable_baselines3.PPO`` arguments.
        policy_dir: where policies are saved / read; default :func:`default_policy_dir`.
        reuse_policies: roll out the saved ``medium``/``expert`` policies of ``policy_dir``
            instead of training (not possible for medium-replay).
        overwrite: replace existing datasets.
        progress: tqdm bars.

    Returns:
        :class:`LocomotionResult`.

    Raises:
        ConfigError: unknown env or level, bad budgets, reuse without saved policies.
    """
    t0 = time.perf_counter()
    env_id = locomotion_env_id(env)
    wanted = parse_levels(levels)
    if train_steps < 1 or steps_per_level < 1:
        raise ConfigError(
            f"train_steps={train_steps} and steps_per_level={steps_per_level}; "
            "expected positive ints"
        )
    pdir = Path(policy_dir) if policy_dir is not None else default_policy_dir(env, seed)
    needs_policy = [lv for lv in wanted if lv in ("medium", "expert")]
    run: TrainingRun | None = None
    policies: dict[str, MLPPolicy] = {}
    paths: dict[str, Path] = {}
    if reuse_policies:
        if "medium-replay" in wanted:
            raise ConfigError(
                "medium-replay is PPO's own training data: it cannot be rebuilt "
                "from saved policies; drop reuse_policies or that level"
            )
        for lv in needs_policy:
            paths[lv] = pdir / f"{lv}.safetensors"
            if not paths[lv].is_file():
                raise ConfigError(
                    f"no saved {lv} policy at {paths[lv]}; train first (without --reuse-policies)"
                )
            policies[lv] = MLPPolicy.load(paths[lv])
    elif needs_policy or "medium-replay" in wanted:
        run = train_ppo(
            env,
            total_steps=train_steps,
            seed=seed,
            eval_every=eval_every,
            eval_episodes=eval_episodes,
            action_std=action_std,
            ppo_kwargs=ppo_kwargs,
            progress=progress,
        )
        chosen = {"expert": run.expert(), "medium": run.medium(medium_fraction)}
        for lv, ckpt in chosen.items():
            extra = {
                "level": lv,
                "train_steps": train_steps,
                "ppo_kwargs": repr(ppo_kwargs),
                "rr_gym_version": __version__,
            }
            paths[lv] = save_checkpoint(ckpt, pdir / f"{lv}.safetensors", extra)
            policies[lv] = MLPPolicy.load(paths[lv])
        logger.info(
            "%s: expert checkpoint at %d steps (return %.1f), medium at %d (%.1f)",
            env_id,
            chosen["expert"].timestep,
            chosen["expert"].eval_return,
            chosen["medium"].timestep,
            chosen["medium"].eval_return,
        )
    ref = REFERENCE_SCORES[env]
    returns = {lv: float(p.info.get("eval_return", float("nan"))) for lv, p in policies.items()}
    results: dict[str, WriteResult] = {}
    for level in wanted:
        meta: dict[str, Any] = {
            "generator": "locomotion",
            "env": env,
            "env_id": env_id,
            "level": level,
            "seed": int(seed),
            "action_std": action_std,
            "reference_score": ref._asdict(),
            "train_steps": int(train_steps),
            "reward_source": f"env ({env_id})",
            "rr_gym_version": __version__,
        }
        policy = policies.get(level)
        if level == "medium-replay":
            assert run is not None  # trained above whenever medium-replay is wanted
            medium = run.medium(medium_fraction)
            meta.update(policy_timestep=medium.timestep, policy_eval_return=medium.eval_return)
        elif policy is not None:
            meta.update(
                policy_path=str(paths[level]),
                policy_timestep=policy.info.get("timestep"),
                policy_eval_return=policy.info.get("eval_return"),
            )
        dataset_id = locomotion_dataset_id(env, level)
        with DatasetWriter(
            dataset_id,
            env=env_id,
            metadata=meta,
            ref_min_score=ref.random,
            ref_max_score=ref.expert,
            overwrite=overwrite,
            algorithm_name=_algorithm(level),
            description=f"rr_gym {env_id} {level} data",
        ) as writer:
            if level == "medium-replay":
                assert run is not None
                episodes = iter(run.replay_until(run.medium(medium_fraction).timestep))
            else:
                # A fixed stream per level: the same data whichever other levels are built.
                level_seed = int(seed) * 100 + LOCOMOTION_LEVELS.index(level) + 1
                episodes = collect_episodes(
                    env_id,
                    policy,
                    steps=steps_per_level,
                    seed=level_seed,
                    action_std=action_std,
                    progress=progress,
                    desc=dataset_id,
                )
            for episode in episodes:
                writer.add(episode)
        assert writer.result is not None  # set by a successful DatasetWriter exit
        results[level] = writer.result
    return LocomotionResult(
        env=env,
        datasets=results,
        policy_paths=paths,
        policy_returns=returns,
        training_seconds=0.0 if run is None else run.seconds,
        training_steps=0 if run is None else run.total_steps,
        seconds=time.perf_counter() - t0,
    )


def _algorithm(level: str) -> str:
    if level == "random":
        return "uniform random actions"
    if level == "medium-replay":
        return "SB3 PPO training rollouts up to the medium checkpoint"
    return f"SB3 PPO {level} checkpoint (rr_gym MLPPolicy)"
