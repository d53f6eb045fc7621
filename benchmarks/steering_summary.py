"""Summarise steering runs: normalised return per planner, and guidance's margin over the base.

Reads one or more ``results.json`` files written by ``benchmarks/steering_hopper.py``
(normalised return) or ``benchmarks/steering_maze.py`` (success rate); runs of the same
models with different conditions may be split over several files; a later file's row
replaces an earlier one with the same seed, condition and scale. For each planner it prints
the mean and standard deviation over seeds; for each guided setting, the paired margin over
the base planner of the same seed, with a 95 % bootstrap interval of its mean over seeds
(10,000 resamples of the seeds, :func:`rr_gym.bench.claims.bootstrap_mean`) and a verdict:
raises / not significant / lowers.

Run: ``python benchmarks/steering_summary.py out/results.json [more.json ...]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from rr_gym.bench.claims import bootstrap_mean


class Setting(NamedTuple):
    """One planner: its condition and, for a guided one, the guidance settings."""

    condition: str
    scale: float
    t_stopgrad: int
    scale_by_variance: bool


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
            score = row["normalized_mean"] if "normalized_mean" in row else row["success_rate"]
            rows[(int(row["seed"]), setting)] = float(score)
    if data:
        print(
            "data (mean normalised return): " + ", ".join(f"{k} {v:.1f}" for k, v in data.items())
        )
    print(
        "| planner | scale | t_stopgrad | variance-scaled | seeds | normalised return or "
        "success (mean ± std) | margin over base [95% CI] | verdict |"
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
            f"{scores.mean():.2f} ± {scores.std():.2f} |"
        )
        paired = np.array([group[s] - base[s] for s in sorted(group) if s in base])
        if setting.condition != "base" and len(paired) >= 2:
            effect = bootstrap_mean(paired.tolist())
            low, high = effect.low, effect.high
            verdict = "raises" if low > 0 else "lowers" if high < 0 else "not significant"
            line += f" {effect.value:+.2f} [{low:+.2f}, {high:+.2f}] | {verdict} |"
        else:
            line += " – | – |"
        print(line)


if __name__ == "__main__":
    main()
