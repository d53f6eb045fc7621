"""``report.md``: the suite's tables, figures and stage timings, from ``results.csv``.

It opens with the Claims section (:mod:`rr_gym.bench.claims`: each of the paper's claims
the suite can test, its effect, 95 % interval over seeds and verdict). Then tables (means
over seeds; ``±`` the standard deviation when there are several):

1. maze reward correctness: argmax-at-goal per (maze, goal) and accuracy over goals;
2. reward quality: Pearson, Spearman, EPIC distance to the true reward, logistic-regression
   accuracy (the official metric);
3. retraining: normalised return of agents trained on each reward (true reward = ceiling,
   BC = its own policy), with the IQM over seeds and pairs and its 95% stratified bootstrap
   interval (rliable);
4. steering: base vs reward-guided vs expert planners;
5. wall time per stage.

Figures (``figures/``, seaborn): maze reward heatmaps with walls and the goal marked,
return bars with intervals, learned-vs-true reward scatter, steering bars.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rr_gym.bench.claims import Claim, claims, retrain_scores
from rr_gym.bench.metrics import aggregate
from rr_gym.bench.results import COLUMNS, ResultsTable
from rr_gym.utils.io import atomic_write_text

if TYPE_CHECKING:
    from rr_gym.bench.context import BenchRun
    from rr_gym.bench.runner import BenchSummary

__all__ = ["claims_table", "markdown_table", "results_frame", "summary_table", "write_report"]

logger = logging.getLogger(__name__)

_QUALITY = ("pearson", "spearman", "episode_spearman", "epic", "lr_accuracy")


def results_frame(path: str | Path) -> pd.DataFrame:
    """``results.csv`` as a DataFrame (empty with the right columns when missing)."""
    rows = ResultsTable(path).read()
    return pd.DataFrame([r.__dict__ for r in rows], columns=list(COLUMNS))


def _fmt(value: float, spread: float | None = None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:.{digits}f}"
    if spread is not None and not math.isnan(spread) and spread > 0:
        text += f" ± {spread:.{digits}f}"
    return text


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table.

    Example:
        >>> print(markdown_table(["a", "b"], [[1, "x"]]))
        | a | b |
        |---|---|
        | 1 | x |
    """
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    return "\n".join(lines)


def _mean_std(df: pd.DataFrame, index: list[str], column: str) -> pd.DataFrame:
    return df.groupby([*index, column])["value"].agg(["mean", "std"]).reset_index()


def _method_order(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(m for m in df["method"] if not m.startswith("steer/")))


def _maze_table(df: pd.DataFrame) -> str:
    maze = df[df["metric"].isin(["argmax_at_goal", "argmax_near_goal"])]
    if maze.empty:
        return ""
    methods = _method_order(maze)
    at = maze[maze["metric"] == "argmax_at_goal"].groupby(["pair", "method"])["value"].mean()
    near = maze[maze["metric"] == "argmax_near_goal"].groupby(["pair", "method"])["value"].mean()
    pairs = sorted(set(at.index.get_level_values(0)))
    rows = [
        [
            p,
            *[
                _fmt(at.get((p, m), math.nan)) + " / " + _fmt(near.get((p, m), math.nan))
                for m in methods
            ],
        ]
        for p in pairs
    ]
    acc = maze[maze["metric"] == "argmax_at_goal"].assign(
        maze=lambda d: d["pair"].str.split("-").str[0]
    )
    by_maze = acc.groupby(["maze", "method"])["value"].mean()
    rows += [
        [f"**{mz} accuracy over goals**", *[_fmt(by_maze.get((mz, m), math.nan)) for m in methods]]
        for mz in sorted(set(acc["maze"]))
    ]
    return markdown_table(["pair (at goal / within one cell)", *methods], rows)


def _quality_table(df: pd.DataFrame) -> str:
    q = df[df["metric"].isin(_QUALITY)]
    if q.empty:
        return ""
    stats = _mean_std(q, ["pair", "method"], "metric")
    rows = []
    for (pair, method), group in stats.groupby(["pair", "method"], sort=False):
        cells = {r.metric: _fmt(r.mean, r.std) for r in group.itertuples()}
        rows.append([pair, method, *[cells.get(m, "–") for m in _QUALITY]])
    return markdown_table(
        [
            "pair",
            "method",
            "Pearson ↑",
            "Spearman ↑",
            "episode Spearman ↑",
            "EPIC ↓",
            "LR accuracy ↑",
        ],
        rows,
    )


def true_reward_note(run: BenchRun) -> str:
    """Which true reward each quality metric of the run compares with, per pair kind."""
    lines = []
    kinds = {p.kind: p for p in run.pairs}
    if "maze" in kinds:
        sizes = kinds["maze"].sizes.get("evaluate") or {}
        dense = sizes.get("maze_true_reward", "dense") == "dense"
        what = (
            "dense, `exp(-d)`" if dense else "sparse, `1[d <= 0.45]` (the `true_reward` method's)"
        )
        lines.append(
            f"- maze pairs: every metric uses the {what} reward of the distance `d` from the "
            "position after the step to the goal; the `true_reward` method retrains on the "
            "env's sparse reward"
        )
    if "locomotion" in kinds:
        lines.append(
            "- locomotion pairs: Pearson and both Spearmans use the datasets' own env rewards; "
            "EPIC uses the v5 reward read off observations (healthy bonus + forward velocity "
            "- control cost)"
        )
    lines.append(
        "- per transition: held-out transitions of both datasets; episode Spearman: every "
        "held-out episode of both, learned reward summed over the episode vs its true "
        "return; EPIC's coverage distribution: the product of the empirical marginals of "
        "actions and next states of those transitions (`sizes.evaluate.n_coverage` samples "
        "of each)"
    )
    return "\n".join(lines)


def claims_table(found: Sequence[Claim]) -> str:
    """The Claims section: each claim's effect, 95 % interval over seeds and verdict."""
    if not found:
        return ""
    rows = []
    for c in found:
        e = c.effect
        interval = "–" if not np.isfinite(e.low) else f"[{e.low:.2f}, {e.high:.2f}]"
        shown = f"**{c.verdict}**" + (f" ({c.note})" if c.note else "")
        rows.append(
            [c.claim, c.scope, c.measure, f"{e.value:.2f}", interval, f"{c.null:.2f}", shown]
        )
    return markdown_table(
        ["claim", "tested on", "effect", "estimate", "95% CI over seeds", "null", "verdict"],
        rows,
    )


def _retrain_table(df: pd.DataFrame) -> str:
    scores, pairs = retrain_scores(df)
    if not scores:
        return ""
    intervals = aggregate(scores)
    rows = []
    for method, table in scores.items():
        cells = [
            _fmt(np.nanmean(table[:, j]), np.nanstd(table[:, j]) if len(table) > 1 else None, 1)
            for j in range(len(pairs))
        ]
        iv = intervals.get(method)
        rows.append(
            [method, *cells, "–" if iv is None else f"{iv.value:.1f} [{iv.low:.1f}, {iv.high:.1f}]"]
        )
    return markdown_table(["method", *pairs, "IQM [95% CI]"], rows)


def _steering_table(df: pd.DataFrame) -> str:
    s = df[df["method"].str.startswith("steer/")]
    if s.empty:
        return ""
    stats = s.groupby(["pair", "method", "metric"])["value"].agg(["mean", "std"])
    rows = []
    for pair, method in dict.fromkeys(zip(s["pair"], s["method"], strict=True)):
        cell = {
            m: _fmt(stats.loc[(pair, method, m), "mean"], stats.loc[(pair, method, m), "std"])
            for m in ("success_rate", "normalized_return", "decisions_per_s")
            if (pair, method, m) in stats.index
        }
        rows.append(
            [
                pair,
                method.removeprefix("steer/"),
                cell.get("success_rate", "–"),
                cell.get("normalized_return", "–"),
                cell.get("decisions_per_s", "–"),
            ]
        )
    return markdown_table(
        ["pair", "planner", "success rate", "normalised return", "decisions/s"], rows
    )


def _images_table(df: pd.DataFrame) -> str:
    from rr_gym.bench.images import IMAGE_METRICS

    rows_in = df[df["metric"].isin(IMAGE_METRICS) & df["pair"].str.startswith("digits-")]
    if rows_in.empty:
        return ""
    stats = rows_in.groupby(["pair", "metric"])["value"].agg(["mean", "std"])
    rows = []
    for pair in dict.fromkeys(rows_in["pair"]):
        rows.append(
            [pair]
            + [
                _fmt(stats.loc[(pair, m), "mean"], stats.loc[(pair, m), "std"])
                if (pair, m) in stats.index
                else "–"
                for m in IMAGE_METRICS
            ]
        )
    header = [
        "pair",
        "AUROC ↑",
        "harmful share: base",
        "guided ↓",
        "expert",
        "gap closed",
        "classifier acc.",
    ]
    note = (
        "Base model: every training digit; expert: all but the harmful class; AUROC ranks "
        "held-out harmless above harmful digits by the reward at t = 0; shares: samples a "
        "logistic regression on the real digits calls the harmful class; gap closed: (base - "
        "guided) / (base - expert). Mean ± std over seeds."
    )
    return f"{note}\n\n{markdown_table(header, rows)}"


def data_table(run: BenchRun) -> str:
    """Every dataset of the run: source, episodes, steps, mean return raw and normalised."""

    pairs = {p.name: p for p in run.pairs}
    rows = []
    for entry in run.artifacts.get("datasets", []):
        summary: dict[str, Any] = {}
        if entry["summary"] is not None and Path(entry["summary"]).is_file():
            summary = read_json(Path(entry["summary"])).get(entry["dataset_id"], {})
        mean = summary.get("mean_return", math.nan)
        score = pairs[entry["pair"]].normalized_score([mean]) if summary else math.nan
        rows.append(
            [
                entry["pair"],
                entry["role"],
                f"`{entry['dataset_id']}`",
                entry["source"],
                summary.get("episodes", "–"),
                summary.get("steps", "–"),
                _fmt(mean, digits=1),
                _fmt(score, digits=1),
            ]
        )
    return (
        markdown_table(
            ["pair", "role", "dataset", "source", "episodes", "steps", "mean return", "normalised"],
            rows,
        )
        if rows
        else ""
    )


def timing_table(timings: dict[str, Any], wall_seconds: float, jobs: int) -> str:
    """Per-stage time of the units built in this run (summed over units: stages overlap
    when ``jobs > 1``), units built / cached, what the cached ones took, and the run's
    wall time."""
    rows, total = [], 0.0
    for stage, t in timings.items():
        t = t if isinstance(t, dict) else vars(t)
        total += t["seconds"]
        rows.append(
            [stage, f"{t['seconds']:.1f}", t["built"], t["cached"], f"{t['cached_seconds']:.1f}"]
        )
    rows.append(["**total**", f"{total:.1f}", "", "", ""])
    table = markdown_table(
        [
            "stage",
            "unit seconds built now",
            "units built",
            "units cached",
            "seconds when cached units were built",
        ],
        rows,
    )
    how = (
        f"{jobs} worker processes (units of different stages run side by side)"
        if jobs > 1
        else "1 process (units one after another)"
    )
    return f"{table}\n\nWall time of this run: {wall_seconds:.0f} s with {how}."


def write_report(run: BenchRun) -> Path:
    """Write ``report.md`` and ``figures/`` for the run; returns the report's path."""
    from rr_gym.bench import figures

    df = results_frame(run.results.path)
    fig_dir = run.out_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    made = figures.draw_all(df, run.artifacts, fig_dir)
    sections = [
        f"# rr_gym bench: suite `{run.suite}`\n",
        f"Seeds {run.seeds}; pairs {[p.name for p in run.pairs]}; methods "
        f"{list(run.methods)}; agent `{run.agent.get('name')}`. Raw numbers: "
        "`results.csv`; resolved config: `config.json`.\n",
    ]
    bars = {
        p.name: float(p.sizes["retrain"]["learning_bar"])
        for p in run.pairs
        if (p.sizes.get("retrain") or {}).get("learning_bar") is not None
    }
    found = claims(df, {p.name: p.kind for p in run.pairs}, bars=bars or None)
    if found:
        sections.append(
            "## Claims\n\nComputed from `results.csv` (`rr_gym.bench.claims`): each effect "
            "with its 95 % bootstrap interval over training seeds; *holds* when the interval "
            "lies above the null, *fails* below it, *not significant* otherwise (or with one "
            f"seed).\n\n{claims_table(found)}\n"
        )
    for title, table, figure in (
        ("Data: what base and expert are", data_table(run), ""),
        ("Maze: does the reward peak at the goal?", _maze_table(df), "heatmaps"),
        (
            "Reward quality against the true reward (held-out data)",
            _quality_table(df) and f"{true_reward_note(run)}\n\n{_quality_table(df)}",
            "scatter",
        ),
        (
            "Retraining: SB3 agents on each reward, normalised true return",
            _retrain_table(df),
            "returns",
        ),
        ("Steering: base vs reward-guided vs expert planner", _steering_table(df), "steering"),
        ("Images: does the reward rank harmful images lower?", _images_table(df), "images"),
    ):
        if not table:
            continue
        sections.append(f"## {title}\n\n{table}\n")
        sections += [f"![{figure}](figures/{name})\n" for name in made.get(figure, [])]
    wall = time.perf_counter() - run.started
    sections.append(f"## Wall time per stage\n\n{timing_table(run.timings, wall, run.jobs)}\n")
    path = run.out_dir / "report.md"
    atomic_write_text(path, "\n".join(sections))
    return path


def summary_table(summary: BenchSummary) -> str:
    """The table printed at the end of a run: per method, the headline numbers."""
    df = results_frame(summary.results_path)
    if df.empty:
        return f"no results; see {summary.out_dir}"
    methods = _method_order(df)
    mean = df.groupby(["method", "metric"])["value"].mean()
    scores, _ = retrain_scores(df)
    intervals = aggregate(scores) if scores else {}
    rows = []
    for m in methods:

        def get(metric: str, m: str = m) -> float:
            return float(mean.get((m, metric), math.nan))

        iv = intervals.get(m)
        rows.append(
            [
                m,
                _fmt(get("argmax_at_goal")),
                _fmt(get("pearson")),
                _fmt(get("epic")),
                _fmt(get("lr_accuracy")),
                "–" if iv is None else f"{iv.value:.1f} [{iv.low:.1f}, {iv.high:.1f}]",
            ]
        )
    steer = df[df["method"].str.startswith("steer/") & (df["metric"] == "success_rate")]
    lines = [
        markdown_table(
            ["method", "argmax@goal", "Pearson", "EPIC", "LR acc.", "retrain IQM [95% CI]"], rows
        )
    ]
    if not steer.empty:
        s = steer.groupby("method")["value"].mean()
        lines.append(
            "steering success: "
            + ", ".join(f"{k.removeprefix('steer/')} {v:.2f}" for k, v in s.items())
        )
    lines.append(f"total {summary.seconds:.0f} s; report: {summary.report_path or '(not written)'}")
    return "\n".join(lines)


def read_json(path: Path) -> Any:
    """A JSON file's content (None when missing)."""
    return json.loads(path.read_text()) if path.is_file() else None
