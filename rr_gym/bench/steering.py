"""Steering: the base diffusion model unguided, guided by a learned reward, and the expert.

Each condition plans with :class:`rr_gym.planning.DiffusionPlanner` (one plan per env
step, first action executed, replanning) in the task's env and is scored by
:func:`rr_gym.envs.evaluate_policy` on the same seeds and episodes: success rate
(``info["success"]``, PointMaze), return, and decisions per second. Used by the bench's
steering stage and by ``benchmarks/steering_maze.py``.

Example:
    >>> [c.name for c in steering_conditions("B", "E", {"guided": "R"}, scales=[0.5, 2])]
    ['base', 'guided@0.5', 'guided@2', 'expert']
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym

from rr_gym.bench.context import row
from rr_gym.envs.rollouts import EpisodeStats, evaluate_policy
from rr_gym.planning import DiffusionPlanner
from rr_gym.utils.io import atomic_write_text

__all__ = ["SteeringCondition", "run_condition", "steering_conditions", "steering_unit"]


class SteeringCondition(NamedTuple):
    """One way of planning.

    Attributes:
        name: ``base``, ``guided@<scale>`` or ``expert``.
        scale: guidance scale (0 unguided).
        model: the diffusion model plans are sampled from.
        guide: the reward whose gradient steers sampling (None: unguided).
    """

    name: str
    scale: float
    model: Any
    guide: Any


def steering_conditions(
    base: Any, expert: Any | None, guides: Mapping[str, Any], *, scales: Sequence[float]
) -> list[SteeringCondition]:
    """Base unguided; base guided by each of ``guides`` (label -> reward) at each scale,
    named ``<label>@<scale>``; then the expert unguided."""
    out = [SteeringCondition("base", 0.0, base, None)]
    for label, reward in guides.items():
        out += [SteeringCondition(f"{label}@{float(s):g}", float(s), base, reward) for s in scales]
    if expert is not None:
        out.append(SteeringCondition("expert", 0.0, expert, None))
    return out


def run_condition(
    condition: SteeringCondition,
    make_env: Callable[[], gym.Env[Any, Any]],
    *,
    episodes: int,
    n_envs: int,
    seed: int,
    t_stopgrad: int = 0,
    replan_every: int = 1,
    sampler: str = "ddpm",
    n_steps: int | None = None,
    clip_denoised: float | None = None,
    scale_by_variance: bool = True,
    progress: bool = False,
) -> EpisodeStats:
    """Plan with ``condition`` for ``episodes`` episodes on ``n_envs`` envs in lock step.

    Args:
        condition: what to plan with.
        make_env: builds one task env (observations as the diffusion model's layout reads).
        episodes: episodes in all.
        n_envs: parallel envs (one batched plan per step).
        seed: seeds the planner's sampling and the envs' first reset.
        t_stopgrad: no guidance below this diffusion step.
        replan_every: env steps per plan.
        sampler: ``"ddpm"`` or ``"ddim"``.
        n_steps: DDIM steps.
        clip_denoised: the planner's clip of predicted clean plans (None: the model's).
        scale_by_variance: multiply the guide by the posterior variance (classifier
            guidance); the official relative-reward runs do not.
        progress: a bar over episodes.

    Returns:
        The episodes' returns, lengths, successes and decisions per second.
    """
    n = max(1, min(int(n_envs), int(episodes)))
    envs = gym.vector.SyncVectorEnv([make_env] * n)
    try:
        planner = DiffusionPlanner(
            condition.model,
            condition.guide,
            scale=condition.scale,
            t_stopgrad=t_stopgrad,
            replan_every=replan_every,
            sampler=sampler,  # type: ignore[arg-type]
            n_steps=n_steps,
            clip_denoised=clip_denoised,
            scale_by_variance=scale_by_variance,
            action_space=envs.single_action_space,  # type: ignore[arg-type]
            seed=seed,
        )
        return evaluate_policy(planner, envs, int(episodes), seed=seed, progress=progress)
    finally:
        envs.close()


def steering_unit(
    pair: Any,
    seed: int,
    models: Any,
    guides: Mapping[str, Any],
    out_dir: Path,
    *,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """The bench's steering unit: every condition on one (pair, seed), as result rows.

    Rows have method ``steer/<condition>`` and metrics ``return``, ``normalized_return``,
    ``decisions_per_s`` and (mazes) ``success_rate``; ``steering.json`` keeps them for the
    report's figure.
    """
    sizes = pair.sizes.get("steering") or {}
    conditions = steering_conditions(
        models.base, models.expert, guides, scales=[float(s) for s in sizes.get("scales", [1.0])]
    )
    rows: list[dict[str, Any]] = []
    records = []
    for condition in conditions:
        tick = time.perf_counter()
        stats = run_condition(
            condition,
            lambda: pair.kind_impl.make_env(pair),
            episodes=int(sizes.get("episodes", 10)),
            n_envs=int(sizes.get("n_envs", 10)),
            seed=1000 * seed + 17,
            t_stopgrad=int(sizes.get("t_stopgrad", 0)),
            replan_every=int(sizes.get("replan_every", 1)),
            sampler=str(sizes.get("sampler", "ddpm")),
            n_steps=sizes.get("n_steps"),
            clip_denoised=sizes.get("clip_denoised"),
            scale_by_variance=bool(sizes.get("scale_by_variance", True)),
            progress=progress,
        )
        seconds = time.perf_counter() - tick
        values = {
            "return": float(stats.returns.mean()),
            "normalized_return": pair.normalized_score(stats.returns),
            "decisions_per_s": float(stats.decisions_per_s),
        }
        if stats.successes.any() or pair.kind == "maze":  # as in retraining: tasks with goals
            values["success_rate"] = stats.success_rate
        method = f"steer/{condition.name}"
        rows += [row(pair.name, method, seed, k, v, seconds) for k, v in values.items()]
        guide = condition.name.split("@")[0] if "@" in condition.name else condition.name
        records.append(
            {
                "condition": condition.name,
                "guide": guide,
                "scale": condition.scale,
                "seed": seed,
                **values,
            }
        )
    atomic_write_text(out_dir / "steering.json", json.dumps(records, indent=1))
    return rows
