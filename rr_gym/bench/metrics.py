"""Metrics of the evaluation protocol (docs/design.md), on plain NumPy inputs.

- :func:`pearson`, :func:`spearman`: correlation of a learned reward with the true one.
- :func:`epic_distance`: EPIC (Gleave et al. 2020): both rewards canonicalised with a
  coverage distribution of actions and next states, then the Pearson distance
  ``sqrt((1 - rho) / 2)``; 0 for rewards equal up to shaping and positive scale, 1 for
  opposite ones.
- :func:`cell_heatmap`, :func:`goal_hit`: a maze reward averaged per cell, and whether its
  argmax is the goal cell (or next to it).
- :func:`logistic_accuracy`: the official code's metric, a class-balanced logistic
  regression of reward values separating two sets of samples, scored on held-out ones.
- :func:`aggregate`: IQM with 95% stratified bootstrap intervals (rliable).

Example:
    >>> rng = np.random.default_rng(0)
    >>> obs, nxt = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
    >>> act = rng.normal(size=(300, 1))
    >>> def r(o, a, n): return n[:, 0] - a[:, 0] ** 2
    >>> def shaped(o, a, n): return 3 * r(o, a, n) + 0.9 * n.sum(1) - o.sum(1)
    >>> round(epic_distance(r, shaped, obs, act, nxt, discount=0.9, rng=rng), 6)
    0.0
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from rr_gym.errors import DataError
from rr_gym.rewards.true_reward import TransitionRewardFn

__all__ = [
    "GoalHit",
    "Interval",
    "aggregate",
    "canonicalize",
    "cell_heatmap",
    "epic_distance",
    "goal_hit",
    "logistic_accuracy",
    "pearson",
    "rliable_intervals",
    "spearman",
]


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.shape != y.shape:
        raise DataError(f"paired values of shapes {x.shape} and {y.shape}; expected equal")
    return x, y


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either side is constant or has fewer than 2 values."""
    x, y = _pair(a, b)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; NaN when either side is constant."""
    x, y = _pair(a, b)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(stats.spearmanr(x, y).statistic)


def canonicalize(
    reward: TransitionRewardFn,
    obs: np.ndarray,
    act: np.ndarray,
    next_obs: np.ndarray,
    coverage_act: np.ndarray,
    coverage_next: np.ndarray,
    *,
    discount: float,
) -> np.ndarray:
    """EPIC's sample-based canonical reward of transitions, up to a constant.

    ``C(R)(s, a, s') = R(s, a, s') + discount * E[R(s', A, S')] - E[R(s, A, S')]``, the
    expectations over the coverage samples ``(A, S')`` (the constant
    ``- discount * E[R(S, A, S')]`` is dropped: Pearson ignores it).

    Args:
        reward: batched reward of transitions.
        obs, act, next_obs: ``(N, o)``, ``(N, a)``, ``(N, o)`` transitions to canonicalise.
        coverage_act, coverage_next: ``(M, a)`` and ``(M, o)`` coverage samples.
        discount: the discount of the shaping the canonicalisation removes.

    Returns:
        ``(N,)`` float64.
    """
    n, m = len(obs), len(coverage_act)
    states = np.concatenate([obs, next_obs])  # (2N, o)
    rep_s = np.repeat(states, m, axis=0)
    rep_a = np.tile(coverage_act, (2 * n, 1))
    rep_n = np.tile(coverage_next, (2 * n, 1))
    means = np.asarray(reward(rep_s, rep_a, rep_n), np.float64).reshape(2 * n, m).mean(1)
    direct = np.asarray(reward(obs, act, next_obs), np.float64)
    return direct + discount * means[n:] - means[:n]


def epic_distance(
    reward_a: TransitionRewardFn,
    reward_b: TransitionRewardFn,
    obs: np.ndarray,
    act: np.ndarray,
    next_obs: np.ndarray,
    *,
    discount: float = 0.99,
    n_coverage: int = 256,
    rng: np.random.Generator,
) -> float:
    """EPIC pseudometric between two rewards, on transitions ``(obs, act, next_obs)``.

    The coverage distribution is the product of the empirical marginals of actions and
    next states of the same transitions (``n_coverage`` of each drawn independently);
    both rewards are canonicalised with the same samples and compared by the Pearson
    distance ``sqrt((1 - rho) / 2)`` over the transitions.

    Args:
        reward_a, reward_b: batched rewards of transitions.
        obs, act, next_obs: ``(N, o)``, ``(N, a)``, ``(N, o)``.
        discount: shaping discount.
        n_coverage: coverage samples per expectation.
        rng: source of the coverage samples.

    Returns:
        A distance in [0, 1]; NaN when a canonical reward is constant.
    """
    obs, act, next_obs = (np.asarray(x, np.float32) for x in (obs, act, next_obs))
    if not (len(obs) == len(act) == len(next_obs)) or len(obs) < 2:
        raise DataError(
            f"transitions of lengths {len(obs)}, {len(act)}, {len(next_obs)}; expected equal "
            "lengths of at least 2"
        )
    m = min(int(n_coverage), len(obs))
    cov_a = act[rng.integers(0, len(act), m)]
    cov_n = next_obs[rng.integers(0, len(next_obs), m)]
    ca = canonicalize(reward_a, obs, act, next_obs, cov_a, cov_n, discount=discount)
    cb = canonicalize(reward_b, obs, act, next_obs, cov_a, cov_n, discount=discount)
    rho = pearson(ca, cb)
    if math.isnan(rho):
        return math.nan
    return float(math.sqrt(max(0.0, (1.0 - min(rho, 1.0)) / 2.0)))


def cell_heatmap(
    values: np.ndarray, cells: np.ndarray, shape: tuple[int, int], open_mask: np.ndarray
) -> np.ndarray:
    """Mean of ``values`` per maze cell; NaN on walls and cells without a value.

    Args:
        values: ``(N,)`` rewards.
        cells: ``(N, 2)`` int ``(row, col)`` of each value (out-of-map rows are ignored).
        shape: ``(n_rows, n_cols)`` of the maze.
        open_mask: ``(n_rows, n_cols)`` bool, True on open cells.

    Returns:
        ``(n_rows, n_cols)`` float64.
    """
    values = np.asarray(values, np.float64)
    cells = np.asarray(cells, np.int64).reshape(-1, 2)
    inside = (
        (cells[:, 0] >= 0)
        & (cells[:, 0] < shape[0])
        & (cells[:, 1] >= 0)
        & (cells[:, 1] < shape[1])
    )
    flat = cells[inside, 0] * shape[1] + cells[inside, 1]
    sums = np.bincount(flat, weights=values[inside], minlength=shape[0] * shape[1])
    counts = np.bincount(flat, minlength=shape[0] * shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (sums / counts).reshape(shape)
    means[~np.asarray(open_mask, bool)] = np.nan
    return means


class GoalHit(NamedTuple):
    """Where a maze reward peaks.

    Attributes:
        argmax_cell: the open cell with the highest mean reward.
        at_goal: it is the goal cell.
        near_goal: it is the goal cell or one of its 4 neighbours.
    """

    argmax_cell: tuple[int, int]
    at_goal: bool
    near_goal: bool


def goal_hit(heatmap: np.ndarray, goal_cell: Sequence[int]) -> GoalHit:
    """Argmax-at-goal of a per-cell heatmap (NaN cells are ignored).

    Example:
        >>> h = np.full((3, 3), np.nan); h[1, 1], h[1, 2], h[2, 2] = 0.1, 0.9, 0.5
        >>> goal_hit(h, (1, 2)), goal_hit(h, (2, 2)).near_goal
        (GoalHit(argmax_cell=(1, 2), at_goal=True, near_goal=True), True)
    """
    h = np.asarray(heatmap, np.float64)
    if not np.isfinite(h).any():
        raise DataError("the heatmap has no finite value; expected rewards on open cells")
    flat = int(np.nanargmax(h))
    cell = (flat // h.shape[1], flat % h.shape[1])
    goal = (int(goal_cell[0]), int(goal_cell[1]))
    dist = abs(cell[0] - goal[0]) + abs(cell[1] - goal[1])
    return GoalHit(cell, dist == 0, dist <= 1)


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-4, iters: int = 50) -> np.ndarray:
    """Newton's method for ``p = sigmoid(w x + b)``; returns ``[w, b]``."""
    features = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.zeros(2)
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(features @ theta, -30, 30)))
        grad = features.T @ (p - y) / len(y) + l2 * theta
        hess = (features * (p * (1 - p))[:, None]).T @ features / len(y) + l2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta


def logistic_accuracy(
    positive: np.ndarray,
    negative: np.ndarray,
    *,
    rng: np.random.Generator,
    train_fraction: float = 0.5,
) -> float:
    """Held-out accuracy of a class-balanced logistic regression on scalar scores.

    Both classes are subsampled to the same size, split into a training and a held-out
    part, standardised with the training statistics, and a 1-D logistic regression
    (with a bias) is fitted on the training part.

    Args:
        positive: ``(N,)`` scores of the positive class (e.g. rewards of expert samples).
        negative: ``(M,)`` scores of the negative class (base samples).
        rng: draws the subsample and the split.
        train_fraction: share of each class used for fitting.

    Returns:
        Accuracy on the held-out part, in [0, 1] (0.5 is chance).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> logistic_accuracy(rng.normal(3, 1, 500), rng.normal(0, 1, 800), rng=rng) > 0.9
        True
    """
    pos, neg = np.asarray(positive, np.float64).ravel(), np.asarray(negative, np.float64).ravel()
    n = min(len(pos), len(neg))
    n_train = int(n * train_fraction)
    if n_train < 2 or n - n_train < 1:
        raise DataError(
            f"{len(pos)} positive and {len(neg)} negative scores; expected at least "
            f"{math.ceil(3 / train_fraction)} of each for a train/held-out split"
        )
    pos, neg = rng.permutation(pos)[:n], rng.permutation(neg)[:n]
    x_train = np.concatenate([pos[:n_train], neg[:n_train]])
    y_train = np.concatenate([np.ones(n_train), np.zeros(n_train)])
    x_test = np.concatenate([pos[n_train:], neg[n_train:]])
    y_test = np.concatenate([np.ones(n - n_train), np.zeros(n - n_train)])
    mean, std = x_train.mean(), x_train.std()
    scale = std if std > 0 else 1.0
    w, b = _fit_logistic((x_train - mean) / scale, y_train)
    predicted = (w * (x_test - mean) / scale + b) > 0
    return float((predicted == y_test.astype(bool)).mean())


class Interval(NamedTuple):
    """An aggregate with its confidence interval."""

    value: float
    low: float
    high: float


def aggregate(
    scores: Mapping[str, np.ndarray], *, reps: int = 2000, seed: int = 0
) -> dict[str, Interval]:
    """IQM of each method's scores with 95% stratified bootstrap intervals (rliable).

    Args:
        scores: method -> ``(runs, tasks)`` scores (runs are seeds; tasks are pairs); NaN
            runs are dropped per method.
        reps: bootstrap replicates.
        seed: seeds the bootstrap.

    Returns:
        method -> :class:`Interval`.

    Example:
        >>> aggregate({"m": np.array([[1.0], [2.0], [3.0], [4.0]])}, reps=100)["m"].value
        2.5
    """
    from rliable import metrics as rl_metrics

    clean: dict[str, np.ndarray] = {}
    for name, value in scores.items():
        arr = np.asarray(value, np.float64)
        if arr.ndim == 1:
            arr = arr[:, None]
        arr = arr[np.isfinite(arr).all(axis=1)]
        if len(arr):
            clean[name] = arr
    if not clean:
        return {}
    points, intervals = rliable_intervals(
        clean, lambda x: np.array([rl_metrics.aggregate_iqm(x)]), reps=reps, seed=seed
    )
    return {
        name: Interval(
            float(points[name][0]), float(intervals[name][0, 0]), float(intervals[name][1, 0])
        )
        for name in clean
    }


def rliable_intervals(
    scores: Mapping[str, Any], func: Any, *, reps: int, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``rliable.library.get_interval_estimates`` made reproducible: rliable draws its
    stratified-bootstrap indices from NumPy's global generator whatever ``random_state`` says
    (rliable 1.2.0), so that generator is seeded with ``seed`` here and restored after."""
    from rliable import library as rly

    from rr_gym.utils.seeding import isolated_global_state

    with isolated_global_state(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(seed)
        return rly.get_interval_estimates(
            scores, func, reps=reps, random_state=np.random.RandomState(seed)
        )
