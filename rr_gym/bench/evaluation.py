"""Reward-quality metrics of one learned reward on one pair (docs/design.md, "Evaluation protocol").

On held-out episodes of both datasets (``sizes.evaluate.n_transitions`` of each):

- ``pearson``, ``spearman``: learned vs true reward of the transitions (the dataset's own
  reward where it is the task's, as in locomotion; else the kind's true reward);
- ``episode_spearman``: Spearman, over every held-out episode of both datasets, of the
  learned reward summed over the episode against the episode's true return (the same true
  reward): what ranks behaviour, where per-transition correlations can flip sign;
- ``epic``: EPIC distance to the kind's true reward, coverage = the same transitions;
- ``lr_accuracy``: a class-balanced logistic regression of the reward separating expert
  from base transitions noised to ``t <= sizes.evaluate.lr_t_max`` with the diffusion
  schedule (the official code's metric), on held-out samples;
- maze only: ``argmax_at_goal`` / ``argmax_near_goal`` of the reward over a grid of
  positions (zero velocity and action), and ``argmax_at_goal_data`` of the reward averaged
  per cell over held-out base transitions.

Arrays for the report's figures are saved beside the rows (``heatmap.npz``,
``scatter.npz``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rr_gym.bench.context import row
from rr_gym.bench.data import FlatTransitions, PairData
from rr_gym.bench.metrics import (
    cell_heatmap,
    epic_distance,
    goal_hit,
    logistic_accuracy,
    pearson,
    spearman,
)
from rr_gym.bench.pairs import PairSpec
from rr_gym.diffusion.schedule import NoiseSchedule
from rr_gym.errors import ConfigError

__all__ = ["evaluate_reward", "maze_grid", "transition_reward_fn"]

logger = logging.getLogger(__name__)

TimedRewardFn = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def transition_reward_fn(model: Any, pair: PairSpec) -> TimedRewardFn:
    """``fn(obs, act, next_obs, t) -> (N,)``: a reward model on flat transitions.

    Rows are laid out in the model's layout from the blocks ``observation``, ``action``,
    ``next_observation`` (and, for mazes, ``desired_goal`` = the goal cell's centre); a
    model with ``window > 1`` sees the transition repeated ``window`` times.

    Raises:
        ConfigError: a layout field that flat transitions do not provide.
    """
    layout = model.layout
    goal = pair.kind_impl.goal_xy(pair) if hasattr(pair.kind_impl, "goal_xy") else None

    def fn(obs: np.ndarray, act: np.ndarray, next_obs: np.ndarray, t: int = 0) -> np.ndarray:
        blocks = {"observation": obs, "action": act, "next_observation": next_obs}
        if goal is not None:
            blocks["desired_goal"] = blocks["next_desired_goal"] = np.broadcast_to(
                goal, (len(obs), 2)
            )
        parts = []
        for name, size in layout.fields:
            if name not in blocks:
                raise ConfigError(
                    f"reward layout field {name!r} cannot be built from transitions; the bench "
                    f"provides {sorted(blocks)}"
                )
            parts.append(np.asarray(blocks[name], np.float32).reshape(len(obs), -1)[:, :size])
        rows = np.concatenate(parts, axis=1)
        if model.window > 1:
            rows = np.repeat(rows[:, None, :], model.window, axis=1)
        return np.asarray(model.predict(rows, t=t), np.float64)

    return fn


def maze_grid(pair: PairSpec, resolution: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """Positions ``(P, 2)`` on a ``resolution x resolution`` grid inside every cell of the
    map, the ``(P, 2)`` cell of each, and the maze geometry."""
    from rr_gym.data.maze import MazeGeometry

    geometry = MazeGeometry.from_name(pair.options["maze"])
    offsets = (np.arange(resolution) + 0.5) / resolution - 0.5
    rows, cols, xy = [], [], []
    for r in range(geometry.n_rows):
        for c in range(geometry.n_cols):
            cx, cy = geometry.cell_to_xy((r, c))
            for dy in offsets[::-1]:
                for dx in offsets:
                    xy.append((cx + dx * geometry.scaling, cy + dy * geometry.scaling))
                    rows.append(r)
                    cols.append(c)
    return np.asarray(xy, np.float32), np.stack([rows, cols], axis=1), geometry


def _held_out(data: PairData, n: int, rng: np.random.Generator) -> dict[str, FlatTransitions]:
    return {role: data.transitions(role, "test").subsample(n, rng) for role in ("base", "expert")}


def _episode_spearman(learned: TimedRewardFn, truth: Any, data: PairData, exact: bool) -> float:
    """Spearman over held-out episodes of both datasets: learned reward summed over each
    episode against its true return (the dataset's reward when ``exact``, else ``truth``)."""
    learned_sums, true_sums = [], []
    for role in ("base", "expert"):
        test = data.transitions(role, "test")
        predicted = learned(test.obs, test.act, test.next_obs, 0)
        target = test.rewards if exact else truth(test.obs, test.act, test.next_obs)
        _, episode = np.unique(test.episode_ids, return_inverse=True)
        learned_sums.append(np.bincount(episode, weights=np.asarray(predicted, np.float64)))
        true_sums.append(np.bincount(episode, weights=np.asarray(target, np.float64)))
    return spearman(np.concatenate(learned_sums), np.concatenate(true_sums))


def _noised_scores(
    fn: TimedRewardFn,
    held: FlatTransitions,
    mean: np.ndarray,
    std: np.ndarray,
    schedule: NoiseSchedule,
    t_max: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rewards of transitions noised (in the normalised space) to random ``t <= t_max``."""
    o, a = held.obs.shape[1], held.act.shape[1]
    x0 = (np.concatenate([held.obs, held.act, held.next_obs], axis=1) - mean) / std
    t = rng.integers(0, t_max + 1, len(x0))
    sa, s1a = schedule.array("sqrt_alphas_cumprod"), schedule.array("sqrt_one_minus_alphas_cumprod")
    xt = sa[t, None] * x0 + s1a[t, None] * rng.standard_normal(x0.shape)
    raw = (xt * std + mean).astype(np.float32)
    scores = np.empty(len(raw))
    for step in np.unique(t):
        m = t == step
        scores[m] = fn(raw[m, :o], raw[m, o : o + a], raw[m, o + a :], int(step))
    return scores


def evaluate_reward(
    pair: PairSpec,
    method: str,
    seed: int,
    model: Any,
    data: PairData,
    out_dir: Path,
) -> list[dict[str, Any]]:
    """Every metric of one reward (``model`` None: the task's own reward) as result rows."""
    import time

    tick = time.perf_counter()
    sizes = pair.sizes.get("evaluate") or {}
    rng = np.random.default_rng([seed, 7])
    truth = pair.kind_impl.true_reward(pair)
    learned: TimedRewardFn = (
        transition_reward_fn(model, pair)
        if model is not None
        else (lambda o, a, n, t=0: truth(o, a, n))
    )
    held = _held_out(data, int(sizes.get("n_transitions", 2000)), rng)
    both = FlatTransitions(
        *(
            np.concatenate([getattr(held["base"], f), getattr(held["expert"], f)])
            for f in FlatTransitions.__dataclass_fields__
        )
    )
    values: dict[str, float] = {}
    predicted = learned(both.obs, both.act, both.next_obs, 0)
    exact = getattr(pair.kind_impl, "exact_dataset_reward", False)
    target = both.rewards if exact else truth(both.obs, both.act, both.next_obs)
    values["pearson"] = pearson(predicted, target)
    values["spearman"] = spearman(predicted, target)
    values["episode_spearman"] = _episode_spearman(learned, truth, data, exact)
    values["epic"] = epic_distance(
        lambda o, a, n: learned(o, a, n, 0),
        truth,
        both.obs,
        both.act,
        both.next_obs,
        discount=float(sizes.get("discount", 0.99)),
        n_coverage=int(sizes.get("n_coverage", 128)),
        rng=rng,
    )
    keep = rng.permutation(len(target))[: int(sizes.get("scatter_points", 600))]
    np.savez_compressed(
        out_dir / "scatter.npz",
        true=target[keep],
        learned=predicted[keep],
        expert=np.arange(len(target))[keep] >= len(held["base"]),
    )
    diffusion = pair.sizes.get("diffusion") or {}
    schedule = NoiseSchedule(int(diffusion.get("n_diffusion_steps", 20)), "cosine")
    base_train = data.transitions("base", "train")
    flat = np.concatenate([base_train.obs, base_train.act, base_train.next_obs], axis=1)
    mean, std = flat.mean(0), np.maximum(flat.std(0), 1e-6)
    t_max = min(int(sizes.get("lr_t_max", 2)), schedule.n_steps - 1)
    scores = {
        role: _noised_scores(learned, held[role], mean, std, schedule, t_max, rng)
        for role in ("base", "expert")
    }
    values["lr_accuracy"] = logistic_accuracy(scores["expert"], scores["base"], rng=rng)
    if pair.kind == "maze":
        values.update(_maze_metrics(pair, learned, held["base"], sizes, out_dir))
    seconds = time.perf_counter() - tick
    return [row(pair.name, method, seed, k, v, seconds) for k, v in values.items()]


def _maze_metrics(
    pair: PairSpec,
    learned: TimedRewardFn,
    base: FlatTransitions,
    sizes: dict[str, Any],
    out_dir: Path,
) -> dict[str, float]:
    res = int(sizes.get("grid_resolution", 8))
    xy, cells, geometry = maze_grid(pair, res)
    zeros2 = np.zeros((len(xy), 2), np.float32)
    obs = np.concatenate([xy, zeros2], axis=1)
    values = learned(obs, zeros2, obs, 0)
    shape = (geometry.n_rows, geometry.n_cols)
    open_mask = np.array(
        [[geometry.is_open((r, c)) for c in range(shape[1])] for r in range(shape[0])]
    )
    grid = cell_heatmap(values, cells, shape, open_mask)
    goal = tuple(pair.options["goal_cell"])
    hit = goal_hit(grid, goal)
    base_cells = np.array([geometry.xy_to_cell(x, y) for x, y in base.obs[:, :2]])
    data_map = cell_heatmap(
        learned(base.obs, base.act, base.next_obs, 0), base_cells, shape, open_mask
    )
    image = values.reshape(shape[0], shape[1], res, res).transpose(0, 2, 1, 3)
    image = image.reshape(shape[0] * res, shape[1] * res).copy()
    image[~np.kron(open_mask, np.ones((res, res), bool))] = np.nan
    np.savez_compressed(
        out_dir / "heatmap.npz",
        image=image,
        cells=grid,
        data_cells=data_map,
        open=open_mask,
        goal=np.array(goal),
        argmax=np.array(hit.argmax_cell),
    )
    out = {"argmax_at_goal": float(hit.at_goal), "argmax_near_goal": float(hit.near_goal)}
    if np.isfinite(data_map).any():
        out["argmax_at_goal_data"] = float(goal_hit(data_map, goal).at_goal)
    return out
