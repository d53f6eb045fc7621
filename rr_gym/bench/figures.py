"""The report's figures (seaborn, matplotlib's Agg backend; PNG files).

- ``heatmaps_<maze>.png``: reward over positions (zero velocity and action) per goal and
  method, walls grey, the goal cell's centre a red star, the argmax cell a white cross
  (the paper's Figure 3 style);
- ``returns.png``: normalised return of the retrained agents per method and pair (95%
  bootstrap interval over seeds), and the IQM over seeds and pairs with its interval;
- ``scatter.png``: learned vs true reward of held-out transitions (expert vs base);
- ``steering.png``: success rate (mazes) or normalised return per planner;
- ``images_harmful_share.png``: share of harmful samples of the base, guided and expert
  image models per harmful class (95 % interval over seeds), and each image pair's
  held-out digits sorted by reward (first seed).
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from rr_gym.bench.metrics import aggregate

__all__ = ["draw_all", "heatmaps", "images", "returns", "scatter", "steering"]

logger = logging.getLogger(__name__)


def _first_seed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seed = min((r["seed"] for r in records), default=0)
    return [r for r in records if r["seed"] == seed]


def _save(fig: Any, path: Path) -> str:
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path.name


def heatmaps(records: list[dict[str, Any]], out: Path) -> list[str]:
    """One figure per maze: rows goals, columns methods (first seed)."""
    by_maze: dict[str, list[tuple[dict[str, Any], Any]]] = defaultdict(list)
    for r in _first_seed(records):
        path = Path(r["path"]) / "heatmap.npz"
        if path.is_file():
            by_maze[r["pair"].split("-")[0]].append((r, np.load(path)))
    names = []
    for maze, items in by_maze.items():
        pairs = list(dict.fromkeys(r["pair"] for r, _ in items))
        methods = list(dict.fromkeys(r["method"] for r, _ in items))
        fig, axes = plt.subplots(
            len(pairs), len(methods), figsize=(2.2 * len(methods), 2.2 * len(pairs)), squeeze=False
        )
        for ax in axes.ravel():
            ax.axis("off")
        cmap = matplotlib.colormaps["viridis"].copy()
        cmap.set_bad("#404040")
        for r, data in items:
            ax = axes[pairs.index(r["pair"]), methods.index(r["method"])]
            image = data["image"]
            res = image.shape[0] // data["open"].shape[0]
            ax.imshow(np.ma.masked_invalid(image), cmap=cmap, interpolation="nearest")
            g, a = data["goal"], data["argmax"]
            ax.plot((g[1] + 0.5) * res - 0.5, (g[0] + 0.5) * res - 0.5, "r*", markersize=12)
            ax.plot((a[1] + 0.5) * res - 0.5, (a[0] + 0.5) * res - 0.5, "wx", markersize=8)
            ax.set_title(f"{r['pair']}\n{r['method']}", fontsize=8)
        fig.suptitle(f"{maze}: reward over positions (red star: goal; white cross: argmax)")
        _tight_below_title(fig)
        names.append(_save(fig, out / f"heatmaps_{maze}.png"))
    return names


def returns(df: pd.DataFrame, out: Path) -> list[str]:
    """Retraining bars per method and pair, and the IQM with its interval."""
    r = df[
        df["metric"].str.startswith("retrain/") & df["metric"].str.endswith("/normalized_return")
    ]
    if r.empty:
        return []
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [3, 1]})
    sns.barplot(data=r, x="method", y="value", hue="pair", errorbar=("ci", 95), ax=left)
    left.set_ylabel("normalised return (100 = expert)")
    left.tick_params(axis="x", rotation=30)
    scores = {
        m: g.pivot_table(index="seed", columns="pair", values="value").to_numpy()
        for m, g in r.groupby("method", sort=False)
    }
    intervals = aggregate(scores)
    names = list(intervals)
    values = np.array([intervals[n].value for n in names])
    err = np.array(
        [
            [intervals[n].value - intervals[n].low for n in names],
            [intervals[n].high - intervals[n].value for n in names],
        ]
    )
    right.errorbar(values, np.arange(len(names)), xerr=err, fmt="o", capsize=3)
    right.set_yticks(np.arange(len(names)), names)
    right.set_xlabel("IQM (95% stratified bootstrap CI)")
    return [_save(fig, out / "returns.png")]


def scatter(records: list[dict[str, Any]], out: Path) -> list[str]:
    """Learned vs true reward, one panel per (pair, method) (first seed)."""
    items = [
        (r, np.load(Path(r["path"]) / "scatter.npz"))
        for r in _first_seed(records)
        if (Path(r["path"]) / "scatter.npz").is_file()
    ]
    if not items:
        return []
    pairs = list(dict.fromkeys(r["pair"] for r, _ in items))
    methods = list(dict.fromkeys(r["method"] for r, _ in items))
    fig, axes = plt.subplots(
        len(pairs), len(methods), figsize=(2.4 * len(methods), 2.2 * len(pairs)), squeeze=False
    )
    for r, data in items:
        ax = axes[pairs.index(r["pair"]), methods.index(r["method"])]
        frame = pd.DataFrame(
            {
                "true": data["true"],
                "learned": data["learned"],
                "data": np.where(data["expert"], "expert", "base"),
            }
        )
        sns.scatterplot(
            data=frame,
            x="true",
            y="learned",
            hue="data",
            s=6,
            ax=ax,
            legend=False,
            palette={"expert": "tab:orange", "base": "tab:blue"},
            linewidth=0,
        )
        ax.set_title(f"{r['pair']}\n{r['method']}", fontsize=8)
        ax.set_xlabel("true", fontsize=7)
        ax.set_ylabel("learned", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.suptitle("learned vs true reward (orange: expert data, blue: base data)")
    _tight_below_title(fig)
    return [_save(fig, out / "scatter.png")]


def steering(records: list[dict[str, Any]], out: Path) -> list[str]:
    """Success rate (or normalised return) per planner, bars over seeds, one panel per pair."""
    rows = []
    for r in records:
        path = Path(r["path"]) / "steering.json"
        if path.is_file():
            rows += [{**x, "pair": r["pair"]} for x in json.loads(path.read_text())]
    if not rows:
        return []
    frame = pd.DataFrame(rows)
    pairs = list(dict.fromkeys(frame["pair"]))
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.5 * len(pairs), 3.5), squeeze=False)
    for ax, pair in zip(axes[0], pairs, strict=True):
        sub = frame[frame["pair"] == pair]
        metric = (
            "success_rate"
            if pair.split("-")[0] in ("umaze", "medium", "large", "open")
            else "normalized_return"
        )
        sns.barplot(data=sub, x="condition", y=metric, errorbar=("ci", 95), ax=ax)
        ax.set_title(pair)
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return [_save(fig, out / "steering.png")]


def images(df: pd.DataFrame, records: list[dict[str, Any]], out: Path) -> list[str]:
    """Harmful share per generator and harmful class; the first seed's held-out grids."""
    shares = df[
        df["metric"].isin(["harmful_share_base", "harmful_share_guided", "harmful_share_expert"])
        & df["pair"].str.startswith("digits-")
    ]
    if shares.empty:
        return []
    data = shares.assign(
        generator=shares["metric"].str.removeprefix("harmful_share_"),
        harmful=shares["pair"].str.removeprefix("digits-harmful"),
    )
    fig, ax = plt.subplots(figsize=(max(4.0, 0.8 * data["harmful"].nunique() + 2), 3))
    sns.barplot(
        data=data,
        x="harmful",
        y="value",
        hue="generator",
        hue_order=["base", "guided", "expert"],
        errorbar=("ci", 95),
        ax=ax,
    )
    ax.set(xlabel="harmful class", ylabel="harmful share of samples")
    names = [_save(fig, out / "images_harmful_share.png")]
    for r in _first_seed(records):
        grid = Path(r["path"]) / "figures" / "heldout_by_reward.png"
        if grid.is_file():
            target = out / f"images_{r['pair']}_heldout.png"
            shutil.copyfile(grid, target)
            names.append(target.name)
    return names


def draw_all(
    df: pd.DataFrame, artifacts: dict[str, list[dict[str, Any]]], out: Path
) -> dict[str, list[str]]:
    """Every figure the run's results allow; returns figure kind -> file names."""
    made: dict[str, list[str]] = {}
    sns.set_theme(style="whitegrid", font_scale=0.8)
    evaluated = artifacts.get("evaluate", [])
    for kind, draw in (
        ("heatmaps", lambda: heatmaps(evaluated, out)),
        ("returns", lambda: returns(df, out)),
        ("scatter", lambda: scatter(evaluated, out)),
        ("steering", lambda: steering(artifacts.get("steering", []), out)),
        ("images", lambda: images(df, artifacts.get("images", []), out)),
    ):
        made[kind] = draw()
    return made


def _tight_below_title(fig: Any, title_inches: float = 0.5) -> None:
    """``tight_layout`` leaving the top ``title_inches`` to the suptitle (plain
    ``tight_layout`` ignores it, and the first row's titles overlap it)."""
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 1.0 - title_inches / fig.get_figheight()))
