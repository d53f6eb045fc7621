"""Summarise steering runs: normalised return per planner, and guidance's margin over the base.

Reads one or more ``results.json`` files written by ``benchmarks/steering_hopper.py`` (runs
of the same models with different conditions may be split over several files; a later file's
row replaces an earlier one with the same seed, condition and scale). For each planner it
prints the mean and standard deviation over seeds; for each guided setting, the paired
margin over the base planner of the same seed, with a 95 % bootstrap interval of its mean
over seeds (10,000 resamples of the seeds) and a verdict: raises / not significant / lowers.

Run: ``python benchmarks/steering_summary.py out/results.json [more.json ...]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np


class Setting(NamedTuple):
    """One planner: its condition and, for a guided one, the guidance settings."""

    condition: str
    scale: float
    t_stopgrad: int
    scale_by_variance: bool


def bootstrap_interval(
    values: np.ndarray, *, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile interval of the mean of ``values`` ``(n,)`` over resampled entries."""
    rng = np.random.default_rng(seed)
    means = rng.choice(values, size=(resamples, len(values)), replace=True).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    args = parser.parse_args()
    rows: dict[tuple[int, Setting], float] = {}
    data: dict[str, float] = {}
    for path in args.results:
        content = json.loads(path.read_text())
        data.update(content.get("data", {}))
        run = content["args"]
        for row in content["rows"]:
            guided = row["condition"] == "guided"
            setting = Setting(
                row["condition"],
                float(row["scale"]),
                int(run["t_stopgrad"]) if guided else 0,
                bool(run.get("scale_by_variance", True)) if guided else False,
            )
            rows[(int(row["seed"]), setting)] = float(row["normalized_mean"])
    if data:
        print(
            "data (mean normalised return): " + ", ".join(f"{k} {v:.1f}" for k, v in data.items())
        )
    print(
        "| planner | scale | t_stopgrad | variance-scaled | seeds | normalised return "
        "(mean ± std) | margin over base [95% CI] | verdict |"
    )
    print("|---|---:|---:|---|---:|---|---|---|")
    base = {seed: v for (seed, setting), v in rows.items() if setting.condition == "base"}
    order = {"base": 0, "guided": 1, "expert": 2}
    settings = sorted({s for _, s in rows}, key=lambda s: (order[s.condition], *s[1:]))
    for setting in settings:
        group = {seed: v for (seed, s), v in rows.items() if s == setting}
        scores = np.array(list(group.values()))
        line = (
            f"| {setting.condition} | {setting.scale:g} | {setting.t_stopgrad} | "
            f"{'yes' if setting.scale_by_variance else 'no'} | {len(scores)} | "
            f"{scores.mean():.1f} ± {scores.std():.1f} |"
        )
        paired = np.array([group[s] - base[s] for s in sorted(group) if s in base])
        if setting.condition != "base" and len(paired) >= 2:
            low, high = bootstrap_interval(paired)
            verdict = "raises" if low > 0 else "lowers" if high < 0 else "not significant"
            line += f" {paired.mean():+.1f} [{low:+.1f}, {high:+.1f}] | {verdict} |"
        else:
            line += " – | – |"
        print(line)


if __name__ == "__main__":
    main()
