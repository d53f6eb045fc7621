"""The paper's claims, tested on a suite's ``results.csv``: effect, 95 % interval, verdict.

Each claim is computed from the result rows alone (nothing is written by hand), with the
training seeds as the unit of replication:

(a) **the relative reward peaks at the goal**: per maze, the share of goals whose grid
    argmax is the goal cell (``argmax_at_goal``), averaged per seed; against chance, one
    over the maze's open cells;
(b) **steering with the relative reward raises the base planner**: per task kind and
    guidance scale, guided minus unguided base planner (maze: success rate; locomotion:
    normalised return), paired per pair and seed, averaged over pairs per seed; against 0;
(c) **agents retrained on the relative reward beat each baseline**: rliable's probability of
    improvement of the relative reward over the baseline (normalised returns, seeds x pairs)
    with its stratified-bootstrap interval; against 0.5. A stage whose true-reward agent
    does not clear the learning bar cannot rank rewards: those lines say so;
(d) **the reward ranks harmful images lower, and guidance lowers their share** (image
    pairs): the held-out AUROC of harmless over harmful images by the reward at t = 0,
    against 0.5; and the base model's harmful share minus the guided base's, against 0;
    each averaged over pairs per seed.

Verdicts: ``holds`` (the interval lies above the null), ``fails`` (below it), ``not
significant`` (it contains it, or fewer than 2 seeds give no interval).

Example:
    >>> verdict(Interval(0.3, 0.1, 0.5), null=0.0)
    'holds'
    >>> verdict(Interval(0.3, -0.1, 0.5), null=0.0)
    'not significant'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from rr_gym.bench.metrics import Interval, rliable_intervals

__all__ = ["RETRAIN_BAR", "Claim", "bootstrap_mean", "claims", "retrain_scores", "verdict"]

Verdict = Literal["holds", "not significant", "fails"]

RELATIVE = "relative_reward"
# The normalised return an agent retrained on the true reward must reach before the stage
# can rank learned rewards, by pair kind, where a suite sets no `sizes.retrain.learning_bar`.
RETRAIN_BAR = {"maze": 60.0, "locomotion": 50.0}


@dataclass(frozen=True)
class Claim:
    """One tested claim.

    Attributes:
        claim: the claim, in words.
        scope: what it was tested on (pairs, seeds).
        measure: what the effect is.
        effect: the estimate with its 95 % interval.
        null: the effect's value when the claim is false.
        verdict: ``holds``, ``not significant`` or ``fails``.
        note: why the verdict cannot be trusted, if so.
    """

    claim: str
    scope: str
    measure: str
    effect: Interval
    null: float
    verdict: Verdict
    note: str = ""


def verdict(effect: Interval, null: float) -> Verdict:
    """``holds`` when the interval lies above ``null``, ``fails`` below, else ``not
    significant`` (also when the interval is undefined)."""
    if not (np.isfinite(effect.low) and np.isfinite(effect.high)):
        return "not significant"
    if effect.low > null:
        return "holds"
    if effect.high < null:
        return "fails"
    return "not significant"


def bootstrap_mean(values: Sequence[float], *, reps: int = 10000, seed: int = 0) -> Interval:
    """Mean of ``values`` (one per seed) with a 95 % percentile bootstrap interval; the
    interval is NaN for fewer than 2 values.

    Example:
        >>> bootstrap_mean([1.0, 2.0, 3.0]).value
        2.0
    """
    arr = np.asarray([v for v in values if np.isfinite(v)], np.float64)
    if len(arr) == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    if len(arr) < 2:
        return Interval(float(arr.mean()), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), size=(reps, len(arr)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(float(arr.mean()), float(low), float(high))


def retrain_scores(df: pd.DataFrame) -> tuple[dict[str, np.ndarray], list[str]]:
    """method -> ``(seeds, pairs)`` normalised returns of the retraining stage, and the pairs."""
    r = df[
        df["metric"].str.startswith("retrain/") & df["metric"].str.endswith("/normalized_return")
    ]
    pairs = sorted(set(r["pair"]))
    out = {}
    for method, group in r.groupby("method", sort=False):
        table = group.pivot_table(index="seed", columns="pair", values="value", aggfunc="mean")
        out[method] = table.reindex(columns=pairs).to_numpy()
    return out, pairs


def _count(n: int, noun: str) -> str:
    """``"1 seed"``, ``"3 seeds"``; nouns ending in s take ``es`` (``"2 classes"``)."""
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


def _seeds(frame: pd.DataFrame) -> str:
    return _count(frame["seed"].nunique(), "seed")


def _goal_claims(df: pd.DataFrame) -> list[Claim]:
    from rr_gym.data.maze import MazeGeometry

    rows = df[(df["metric"] == "argmax_at_goal") & (df["method"] == RELATIVE)]
    out = []
    for maze, group in rows.groupby(rows["pair"].str.split("-").str[0], sort=True):
        per_seed = group.groupby("seed")["value"].mean()
        chance = 1.0 / len(MazeGeometry.from_name(str(maze)).open_cells)
        effect = bootstrap_mean(per_seed.tolist())
        out.append(
            Claim(
                claim="(a) the relative reward peaks at the goal",
                scope=f"{maze}: {group['pair'].nunique()} goals x {_seeds(group)}",
                measure=f"argmax accuracy over goals (chance {chance:.2f})",
                effect=effect,
                null=chance,
                verdict=verdict(effect, chance),
            )
        )
    return out


def _steering_claims(df: pd.DataFrame, kinds: dict[str, str]) -> list[Claim]:
    steer = df[df["method"].str.startswith("steer/")]
    out = []
    for kind, metric, what in (
        ("maze", "success_rate", "success rate"),
        ("locomotion", "normalized_return", "normalised return"),
    ):
        pairs = [p for p, k in kinds.items() if k == kind]
        rows = steer[steer["pair"].isin(pairs) & (steer["metric"] == metric)]
        if rows.empty:
            continue
        table = rows.pivot_table(index=["pair", "seed"], columns="method", values="value")
        base = table.get("steer/base")
        if base is None:
            continue
        guided = sorted(
            (c for c in table.columns if c.startswith(f"steer/{RELATIVE}@")),
            key=lambda c: float(c.split("@")[1]),
        )
        for column in guided:
            margin = (table[column] - base).dropna()
            if margin.empty:
                continue
            per_seed = margin.groupby(level="seed").mean()
            effect = bootstrap_mean(per_seed.tolist())
            n_pairs = margin.index.get_level_values("pair").nunique()
            out.append(
                Claim(
                    claim="(b) steering with the relative reward raises the base planner",
                    scope=f"{kind}, scale {column.split('@')[1]}: {_count(n_pairs, 'pair')} x "
                    f"{_count(len(per_seed), 'seed')}",
                    measure=f"guided - base {what}",
                    effect=effect,
                    null=0.0,
                    verdict=verdict(effect, 0.0),
                )
            )
    return out


def _improvement(x: np.ndarray, y: np.ndarray, reps: int, seed: int) -> Interval:
    """rliable's probability of improvement of ``x`` over ``y`` ``(runs, tasks)``."""
    from rliable import metrics as rl_metrics

    points, intervals = rliable_intervals(
        {"xy": [x, y]},
        lambda a, b: np.array([rl_metrics.probability_of_improvement(a, b)]),
        reps=reps,
        seed=seed,
    )
    low, high = intervals["xy"][:, 0]
    if len(x) < 2:
        low = high = float("nan")
    return Interval(float(points["xy"][0]), float(low), float(high))


def _retrain_claims(df: pd.DataFrame, bars: dict[str, float], reps: int) -> list[Claim]:
    scores, pairs = retrain_scores(df)
    if RELATIVE not in scores:
        return []
    ours = scores[RELATIVE]
    note = ""
    if "true_reward" in scores:
        ceiling = np.nanmean(scores["true_reward"], axis=0)
        short = [
            f"{p} {c:.1f} < {bars[p]:g}"
            for p, c in zip(pairs, ceiling, strict=True)
            if p in bars and not c >= bars[p]
        ]
        if short:
            note = (
                "the true-reward agent does not learn at this budget ("
                + ", ".join(short)
                + "): the stage cannot rank rewards"
            )
    out = []
    for method, theirs in scores.items():
        if method in (RELATIVE, "true_reward"):
            continue
        keep = np.isfinite(ours).all(axis=1) & np.isfinite(theirs).all(axis=1)
        if not keep.any():
            continue
        effect = _improvement(ours[keep], theirs[keep], reps, seed=0)
        out.append(
            Claim(
                claim=f"(c) agents retrained on the relative reward beat {method}",
                scope=f"{_count(len(pairs), 'pair')} x {_count(int(keep.sum()), 'seed')}",
                measure="probability of improvement (rliable)",
                effect=effect,
                null=0.5,
                verdict=verdict(effect, 0.5),
                note=note,
            )
        )
    return out


def _image_claims(df: pd.DataFrame, kinds: dict[str, str]) -> list[Claim]:
    pairs = [p for p, k in kinds.items() if k == "images"]
    rows = df[df["pair"].isin(pairs) & (df["method"] == RELATIVE)]
    if rows.empty:
        return []
    table = rows.pivot_table(index=["pair", "seed"], columns="metric", values="value")
    out = []
    for claim, measure, values, null in (
        (
            "(d) the relative reward ranks harmful images lower",
            "held-out AUROC, harmless over harmful",
            table.get("auroc"),
            0.5,
        ),
        (
            "(d) guidance with the relative reward lowers the harmful share",
            "base - guided share of harmful samples",
            table.get("harmful_share_base") - table.get("harmful_share_guided")
            if {"harmful_share_base", "harmful_share_guided"} <= set(table.columns)
            else None,
            0.0,
        ),
    ):
        if values is None or values.dropna().empty:
            continue
        per_seed = values.dropna().groupby(level="seed").mean()
        effect = bootstrap_mean(per_seed.tolist())
        n_pairs = values.dropna().index.get_level_values("pair").nunique()
        out.append(
            Claim(
                claim=claim,
                scope=f"digits: {_count(n_pairs, 'harmful class')} x "
                f"{_count(len(per_seed), 'seed')}",
                measure=measure,
                effect=effect,
                null=null,
                verdict=verdict(effect, null),
            )
        )
    return out


def claims(
    df: pd.DataFrame,
    kinds: dict[str, str],
    *,
    bars: dict[str, float] | None = None,
    reps: int = 2000,
) -> list[Claim]:
    """Every claim that ``df`` (the rows of ``results.csv``) can test.

    Args:
        df: result rows (columns of :data:`rr_gym.bench.results.COLUMNS`).
        kinds: pair name -> pair kind (``maze``, ``locomotion``, ``images``...).
        bars: pair name -> the normalised return its true-reward agent must reach for the
            retraining stage to rank rewards (``sizes.retrain.learning_bar``; default
            :data:`RETRAIN_BAR` of the pair's kind).
        reps: bootstrap replicates of the retraining intervals.
    """
    if bars is None:
        bars = {p: RETRAIN_BAR[k] for p, k in kinds.items() if k in RETRAIN_BAR}
    return (
        _goal_claims(df)
        + _steering_claims(df, kinds)
        + _retrain_claims(df, bars, reps)
        + _image_claims(df, kinds)
    )
