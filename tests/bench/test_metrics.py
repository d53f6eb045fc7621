"""Metrics on inputs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rr_gym.bench.metrics import (
    aggregate,
    cell_heatmap,
    epic_distance,
    goal_hit,
    logistic_accuracy,
    pearson,
    spearman,
)
from rr_gym.errors import DataError


@pytest.fixture
def transitions() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 3)), rng.normal(size=(400, 2)), rng.normal(size=(400, 3))


def _reward(o: np.ndarray, a: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.tanh(n[:, 0]) + 0.5 * o[:, 1] * a[:, 0] - (a**2).sum(1)


def test_epic_is_zero_for_shaped_and_rescaled_rewards(transitions) -> None:
    obs, act, nxt = transitions
    gamma = 0.9

    def potential(s: np.ndarray) -> np.ndarray:
        return np.sin(s[:, 0]) + s[:, 2] ** 2

    def shaped(o: np.ndarray, a: np.ndarray, n: np.ndarray) -> np.ndarray:
        return 2.5 * _reward(o, a, n) + gamma * potential(n) - potential(o) + 7.0

    rng = np.random.default_rng(1)
    d = epic_distance(_reward, shaped, obs, act, nxt, discount=gamma, n_coverage=64, rng=rng)
    assert d == pytest.approx(0.0, abs=1e-6)


def test_epic_is_one_for_the_opposite_reward(transitions) -> None:
    obs, act, nxt = transitions
    rng = np.random.default_rng(1)

    def opposite(o: np.ndarray, a: np.ndarray, n: np.ndarray) -> np.ndarray:
        return -3.0 * _reward(o, a, n)

    assert epic_distance(_reward, opposite, obs, act, nxt, rng=rng) == pytest.approx(1.0, abs=1e-6)


def test_epic_of_unrelated_rewards_is_in_between(transitions) -> None:
    obs, act, nxt = transitions
    rng = np.random.default_rng(1)

    def other(o: np.ndarray, a: np.ndarray, n: np.ndarray) -> np.ndarray:
        return np.cos(3 * o[:, 2]) * n[:, 1]

    assert 0.5 < epic_distance(_reward, other, obs, act, nxt, rng=rng) < 0.9


def test_correlations() -> None:
    x = np.arange(10.0)
    assert pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert pearson(x, -x) == pytest.approx(-1.0)
    assert math.isnan(pearson(x, np.ones(10)))
    with pytest.raises(DataError, match="shapes"):
        pearson(x, x[:3])


def test_argmax_at_goal_on_a_synthetic_heatmap() -> None:
    open_mask = np.array([[0, 0, 0], [0, 1, 1], [0, 1, 1]], bool)
    rows, cols = np.meshgrid(np.arange(3), np.arange(3), indexing="ij")
    cells = np.stack([rows.ravel(), cols.ravel()], 1).repeat(4, axis=0)  # 4 points per cell
    values = np.where((cells == [2, 2]).all(1), 5.0, 1.0) + np.random.default_rng(0).normal(
        0, 0.1, len(cells)
    )
    values[(cells == [0, 0]).all(1)] = 100.0  # a wall: ignored
    heat = cell_heatmap(values, cells, (3, 3), open_mask)
    assert np.isnan(heat[0]).all() and np.isfinite(heat[1:, 1:]).all()
    assert goal_hit(heat, (2, 2)) == ((2, 2), True, True)
    assert goal_hit(heat, (1, 2)) == ((2, 2), False, True)
    assert goal_hit(heat, (1, 1)) == ((2, 2), False, False)


def test_logistic_accuracy() -> None:
    rng = np.random.default_rng(0)
    assert logistic_accuracy(rng.normal(4, 1, 400), rng.normal(0, 1, 900), rng=rng) > 0.95
    chance = logistic_accuracy(rng.normal(0, 1, 2000), rng.normal(0, 1, 2000), rng=rng)
    assert 0.4 < chance < 0.6
    # direction-free: a reward that is lower on expert data still separates them
    assert logistic_accuracy(rng.normal(-4, 1, 400), rng.normal(0, 1, 400), rng=rng) > 0.95
    with pytest.raises(DataError, match="at least"):
        logistic_accuracy(np.ones(2), np.zeros(2), rng=rng)


def test_iqm_and_interval_on_known_numbers() -> None:
    # IQM of 1..8 is the mean of the middle half, 3..6.
    scores = {"a": np.arange(1.0, 9.0)[:, None], "b": np.full((4, 2), 5.0)}
    out = aggregate(scores, reps=500, seed=0)
    assert out["a"].value == pytest.approx(4.5)
    assert out["a"].low <= 4.5 <= out["a"].high and out["a"].low < out["a"].high
    assert out["b"] == (5.0, 5.0, 5.0)
    assert aggregate({"c": np.array([[np.nan]])}) == {}


def test_bootstrap_intervals_repeat_exactly_and_leave_the_global_rng_alone() -> None:
    # rliable draws its bootstrap indices from NumPy's global generator, ignoring its
    # random_state: unseeded, a report rerun from the same results moved CI ends by 0.01
    from rr_gym.bench.claims import _improvement

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    first = [_improvement(x, y, 500, seed=0), aggregate({"m": x}, reps=500)["m"]]
    np.random.seed(999)  # whatever the global state, the same intervals
    assert [_improvement(x, y, 500, seed=0), aggregate({"m": x}, reps=500)["m"]] == first
    np.random.seed(123)
    _improvement(x, y, 500, seed=0)
    assert (np.random.get_state()[1] == before).all()
