"""Claims computed from result rows: each effect, its interval over seeds and its verdict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rr_gym.bench.claims import Claim, bootstrap_mean, claims, verdict
from rr_gym.bench.metrics import Interval
from rr_gym.bench.report import claims_table
from rr_gym.bench.results import COLUMNS

KINDS = {
    "umaze-goal0": "maze",
    "umaze-goal6": "maze",
    "hopper-medium-replay-expert": "locomotion",
}


def _frame(rows: list[tuple[str, str, int, str, float]]) -> pd.DataFrame:
    full = [
        ("test", pair, method, seed, metric, value, 1.0)
        for pair, method, seed, metric, value in rows
    ]
    return pd.DataFrame(full, columns=list(COLUMNS))


def _one(found: list[Claim], prefix: str) -> list[Claim]:
    return [c for c in found if c.claim.startswith(prefix)]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0.1, 0.4, "holds"), (-0.4, -0.1, "fails"), (-0.1, 0.4, "not significant")],
)
def test_verdict_compares_the_interval_with_the_null(
    low: float, high: float, expected: str
) -> None:
    assert verdict(Interval(0.2, low, high), null=0.0) == expected


def test_one_seed_gives_no_interval_and_no_verdict() -> None:
    effect = bootstrap_mean([0.7])
    assert effect.value == 0.7 and np.isnan(effect.low)
    assert verdict(effect, 0.0) == "not significant"


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_agreement() -> None:
    spread = bootstrap_mean([0.0, 1.0, 2.0, 3.0, 4.0])
    tight = bootstrap_mean([1.9, 2.0, 2.1, 2.0, 2.0])
    assert spread.low < 2.0 < spread.high
    assert tight.high - tight.low < 0.2 * (spread.high - spread.low)


def test_the_reward_peaks_at_the_goal_against_chance() -> None:
    rows = [
        (pair, "relative_reward", seed, "argmax_at_goal", 1.0)
        for pair in ("umaze-goal0", "umaze-goal6")
        for seed in range(3)
    ]
    rows += [("umaze-goal0", "discriminator", 0, "argmax_at_goal", 0.0)]  # not this claim
    (claim,) = _one(claims(_frame(rows), KINDS), "(a)")
    assert claim.scope == "umaze: 2 goals x 3 seeds"
    assert claim.null == pytest.approx(1 / 7)  # UMaze has 7 open cells
    assert claim.effect.value == 1.0 and claim.verdict == "holds"

    misses = [(p, m, s, k, 0.0) for p, m, s, k, _ in rows]
    (claim,) = _one(claims(_frame(misses), KINDS), "(a)")
    assert claim.verdict == "fails"


def _steering(margins: list[float], kind_pairs: tuple[str, ...]) -> pd.DataFrame:
    metric = "success_rate" if "maze" in kind_pairs[0] else "normalized_return"
    rows = []
    for seed, margin in enumerate(margins):
        for pair in kind_pairs:
            rows.append((pair, "steer/base", seed, metric, 0.4))
            rows.append((pair, "steer/relative_reward@1", seed, metric, 0.4 + margin))
            rows.append((pair, "steer/noised_discriminator@1", seed, metric, 0.0))
    return _frame(rows)


@pytest.mark.parametrize(
    ("margins", "expected"),
    [
        ([0.2, 0.3, 0.25], "holds"),
        ([-0.2, -0.3, -0.25], "fails"),
        ([0.3, -0.3, 0.05], "not significant"),
    ],
)
def test_steering_is_the_paired_margin_of_guided_over_base(
    margins: list[float], expected: str
) -> None:
    found = _one(claims(_steering(margins, ("umaze-goal0", "umaze-goal6")), KINDS), "(b)")
    (claim,) = found  # one line per scale of the relative reward, not for other guides
    assert claim.scope == "maze, scale 1: 2 pairs x 3 seeds"
    assert claim.effect.value == pytest.approx(np.mean(margins))
    assert claim.verdict == expected


def test_locomotion_steering_is_judged_on_normalised_return() -> None:
    df = _steering([3.0, 2.0, 4.0], ("hopper-medium-replay-expert",))
    (claim,) = _one(claims(df, KINDS), "(b)")
    assert claim.scope.startswith("locomotion") and claim.measure.endswith("normalised return")
    assert claim.verdict == "holds"


def _retrain(ours: list[float], theirs: list[float], ceiling: float) -> pd.DataFrame:
    metric = "retrain/ppo/normalized_return"
    rows = []
    for seed, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        rows += [
            ("umaze-goal6", "relative_reward", seed, metric, a),
            ("umaze-goal6", "gail", seed, metric, b),
            ("umaze-goal6", "true_reward", seed, metric, ceiling),
        ]
    return _frame(rows)


def test_retraining_uses_the_probability_of_improvement_and_flags_a_ceiling_that_fails() -> None:
    better = _retrain([80, 85, 90, 95, 88], [10, 12, 8, 11, 9], ceiling=120.0)
    (claim,) = _one(claims(better, KINDS, reps=200), "(c)")
    assert claim.claim.endswith("beat gail") and claim.null == 0.5
    assert claim.effect.value == pytest.approx(1.0) and claim.verdict == "holds"
    assert claim.note == ""

    low_ceiling = _retrain([80, 85, 90, 95, 88], [10, 12, 8, 11, 9], ceiling=20.0)
    (claim,) = _one(claims(low_ceiling, KINDS, reps=200), "(c)")
    assert "umaze-goal6 20.0 < 60" in claim.note and "cannot rank" in claim.note

    worse = _retrain([10, 12, 8, 11, 9], [80, 85, 90, 95, 88], ceiling=120.0)
    assert _one(claims(worse, KINDS, reps=200), "(c)")[0].verdict == "fails"

    # a suite's own bar (sizes.retrain.learning_bar) replaces the kind's default
    (claim,) = _one(claims(better, KINDS, bars={"umaze-goal6": 150.0}, reps=200), "(c)")
    assert "umaze-goal6 120.0 < 150" in claim.note


def _images(auroc: list[float], base: list[float], guided: list[float]) -> pd.DataFrame:
    rows = []
    for seed, (a, b, g) in enumerate(zip(auroc, base, guided, strict=True)):
        for pair in ("digits-harmful3", "digits-harmful8"):
            rows += [
                (pair, "relative_reward", seed, "auroc", a),
                (pair, "relative_reward", seed, "harmful_share_base", b),
                (pair, "relative_reward", seed, "harmful_share_guided", g),
                (pair, "relative_reward", seed, "harmful_share_expert", 0.01),
            ]
    return _frame(rows)


def test_image_claims_are_auroc_against_chance_and_the_drop_in_harmful_share() -> None:
    kinds = {"digits-harmful3": "images", "digits-harmful8": "images"}
    good = _images([0.97, 0.99, 0.98], [0.10, 0.11, 0.09], [0.03, 0.02, 0.04])
    ranks, lowers = _one(claims(good, kinds), "(d)")
    assert ranks.null == 0.5 and ranks.verdict == "holds"
    assert ranks.effect.value == pytest.approx(0.98)
    assert ranks.scope == "digits: 2 harmful classes x 3 seeds"
    assert lowers.null == 0.0 and lowers.verdict == "holds"
    assert lowers.effect.value == pytest.approx(0.07)
    bad = _images([0.40, 0.45, 0.42], [0.10, 0.11, 0.09], [0.15, 0.16, 0.14])
    assert [c.verdict for c in _one(claims(bad, kinds), "(d)")] == ["fails", "fails"]
    # image rows of pairs of another kind are not image claims
    assert _one(claims(good, KINDS), "(d)") == []


def test_claims_table_shows_every_claim_with_its_interval() -> None:
    df = pd.concat(
        [
            _steering([0.2, 0.3, 0.25], ("umaze-goal0", "umaze-goal6")),
            _retrain([80, 85, 90], [10, 12, 8], ceiling=20.0),
        ]
    )
    table = claims_table(claims(df, KINDS, reps=200))
    assert table.count("\n") == 1 + 2  # header, rule, two claims
    assert "**holds**" in table and "cannot rank rewards" in table
    assert claims_table([]) == ""
