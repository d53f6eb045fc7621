"""Command line: ``python -m rr_gym.data {generate,list,info}``.

Examples::

    python -m rr_gym.data generate pointmaze --maze umaze --goal 1 --steps 1000000 --seed 0
    python -m rr_gym.data generate pointmaze --maze umaze --base --steps 1000000 --seed 0
    python -m rr_gym.data generate pointmaze --maze medium --goal all --steps 200000
    python -m rr_gym.data generate locomotion --env hopper --levels medium,expert --seed 0
    python -m rr_gym.data list
    python -m rr_gym.data info rr_gym/pointmaze-umaze-goal1-v0

Datasets go under ``$MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence

from rr_gym.errors import ConfigError, RRGymError

__all__ = ["build_parser", "main"]


def _int_option(minimum: int, expected: str) -> Callable[[str], int]:
    """An argparse ``type`` accepting integers ``>= minimum`` (usage error otherwise)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an integer; expected {expected}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is out of range; expected {expected}")
        return value

    return parse


_positive_int = _int_option(1, "a positive integer")
_seed = _int_option(0, "a non-negative integer seed")


def _finite_float(text: str) -> float:
    """An argparse ``type`` accepting finite floats (not nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number; expected a finite float"
        ) from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite; expected a finite float")
    return value


def _goal_spec(text: str) -> str:
    """An argparse ``type`` for ``--goal``: ``'all'`` or a non-empty comma list of indices.

    Whether the indices exist in the chosen maze is checked later (:func:`_goals`).
    """
    spec = text.strip()
    expected = "a goal index (e.g. 1), a comma list of them (e.g. 0,2) or 'all'"
    if spec == "all":
        return spec
    parts = [g.strip() for g in spec.split(",")]
    if not spec or any(not g for g in parts):
        raise argparse.ArgumentTypeError(f"{text!r} holds an empty goal; expected {expected}")
    bad = [g for g in parts if not (g.isascii() and g.isdigit())]
    if bad:
        where = repr(text) if len(parts) == 1 else f"{text!r}: {bad[0]!r}"
        raise argparse.ArgumentTypeError(
            f"{where} is not a non-negative integer; expected {expected}"
        )
    return ",".join(str(int(g)) for g in parts)


def _goals(text: str, maze: str) -> list[int]:
    from rr_gym.data.maze import MazeGeometry

    geometry = MazeGeometry.from_name(maze)
    if text == "all":
        return list(range(len(geometry.goal_cells)))
    try:
        goals = [int(g) for g in text.split(",") if g.strip()]
    except ValueError:
        raise ConfigError(f"--goal {text!r}; expected an index, a comma list or 'all'") from None
    if not goals:
        raise ConfigError(
            f"--goal {text!r} names no goal; expected an index, a comma list or 'all'"
        )
    for g in goals:
        geometry.goal_cell(g)  # raises with the valid choices
    return goals


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of ``python -m rr_gym.data``."""
    from rr_gym.data.ids import LOCOMOTION_LEVELS
    from rr_gym.data.locomotion import LOCOMOTION_ENV_IDS
    from rr_gym.data.maze import MAZE_NAMES

    parser = argparse.ArgumentParser(
        prog="python -m rr_gym.data", description="rr_gym datasets (Minari format)."
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or logs")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="generate a dataset locally (no network)")
    kinds = gen.add_subparsers(dest="kind", required=True)

    pm = kinds.add_parser("pointmaze", help="PointMaze waypoint-controller data")
    pm.add_argument("--maze", required=True, choices=MAZE_NAMES)
    which = pm.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--goal", type=_goal_spec, help="goal index, comma list of indices, or 'all' (expert data)"
    )
    which.add_argument("--base", action="store_true", help="random goals (base data)")
    pm.add_argument(
        "--steps", type=_positive_int, default=1_000_000, help="transitions per dataset"
    )
    pm.add_argument("--seed", type=_seed, default=0)
    pm.add_argument("--reward", choices=("sparse", "dense"), default="sparse")
    pm.add_argument(
        "--max-episode-steps",
        type=_positive_int,
        default=None,
        help="episode time limit (default: the env's)",
    )
    pm.add_argument("--dataset-id", default=None, help="override the id (one dataset only)")
    pm.add_argument("--overwrite", action="store_true")

    lo = kinds.add_parser("locomotion", help="MuJoCo locomotion data at several qualities")
    lo.add_argument("--env", required=True, choices=tuple(LOCOMOTION_ENV_IDS))
    lo.add_argument(
        "--levels", default="all", help=f"comma list of {','.join(LOCOMOTION_LEVELS)} or 'all'"
    )
    lo.add_argument(
        "--train-steps", type=_positive_int, default=300_000, help="PPO budget (env steps)"
    )
    lo.add_argument("--steps-per-level", type=_positive_int, default=200_000)
    lo.add_argument("--seed", type=_seed, default=0)
    lo.add_argument("--eval-every", type=_positive_int, default=10_000)
    lo.add_argument("--eval-episodes", type=_positive_int, default=5)
    lo.add_argument(
        "--action-std",
        type=_finite_float,
        default=0.1,
        help="Gaussian noise on the mean action for evaluation and collection "
        "(0: deterministic; negative: PPO's own learned std)",
    )
    lo.add_argument("--policy-dir", default=None)
    lo.add_argument(
        "--reuse-policies",
        action="store_true",
        help="roll out saved medium/expert policies instead of training",
    )
    lo.add_argument("--overwrite", action="store_true")

    ls = sub.add_parser("list", help="local datasets with sizes, episodes, mean returns")
    ls.add_argument("--json", action="store_true")
    info = sub.add_parser("info", help="metadata of one dataset (id or path)")
    info.add_argument("dataset")
    return parser


def _generate_pointmaze(args: argparse.Namespace, progress: bool) -> None:
    from rr_gym.data.pointmaze import generate_pointmaze

    goals: list[int | None] = [None] if args.base else list(_goals(args.goal, args.maze))
    if args.dataset_id is not None and len(goals) > 1:
        raise ConfigError("--dataset-id names one dataset; give a single --goal")
    for goal in goals:
        result = generate_pointmaze(
            args.maze,
            goal=goal,
            steps=args.steps,
            seed=args.seed,
            reward_type=args.reward,
            max_episode_steps=args.max_episode_steps,
            dataset_id=args.dataset_id,
            overwrite=args.overwrite,
            progress=progress,
        )
        print(
            f"{result.dataset_id}: {result.total_steps} steps, {result.total_episodes} "
            f"episodes, mean return {result.mean_return:.3f}, {result.seconds:.1f} s "
            f"({result.total_steps / result.seconds:,.0f} steps/s) -> {result.path}"
        )


def _generate_locomotion(args: argparse.Namespace, progress: bool) -> None:
    from rr_gym.data.locomotion_datasets import generate_locomotion

    result = generate_locomotion(
        args.env,
        levels=args.levels,
        train_steps=args.train_steps,
        steps_per_level=args.steps_per_level,
        seed=args.seed,
        eval_every=args.eval_every,
        eval_episodes=args.eval_episodes,
        action_std=None if args.action_std < 0 else args.action_std,
        policy_dir=args.policy_dir,
        reuse_policies=args.reuse_policies,
        overwrite=args.overwrite,
        progress=progress,
    )
    if result.training_steps:
        print(f"PPO: {result.training_steps} steps in {result.training_seconds:.1f} s")
    for level, path in result.policy_paths.items():
        print(f"{level} policy: eval return {result.policy_returns[level]:.1f} -> {path}")
    for ds in result.datasets.values():
        print(
            f"{ds.dataset_id}: {ds.total_steps} steps, {ds.total_episodes} episodes, "
            f"mean return {ds.mean_return:.1f}"
        )
    print(f"total {result.seconds:.1f} s")


def _list(args: argparse.Namespace) -> None:
    from rr_gym.data.catalog import list_local_datasets
    from rr_gym.data.storage import datasets_root

    rows = list_local_datasets()
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
        return
    print(f"Minari root: {datasets_root()}")
    if not rows:
        print("(no local dataset)")
        return
    width = max(len(r.dataset_id) for r in rows)
    print(f"{'id':<{width}}  {'steps':>10}  {'episodes':>8}  {'MB':>8}  {'mean return':>11}")
    for r in rows:
        mean = "-" if r.mean_return is None else f"{r.mean_return:.2f}"
        print(
            f"{r.dataset_id:<{width}}  {r.total_steps:>10}  {r.total_episodes:>8}  "
            f"{r.size_mb:>8.1f}  {mean:>11}"
        )


def _info(args: argparse.Namespace) -> None:
    from rr_gym.data.catalog import summarize
    from rr_gym.data.loading import dataset_metadata, load_dataset

    dataset = load_dataset(args.dataset, download=False)
    out = {"summary": summarize(dataset).to_dict(), "metadata": dataset_metadata(dataset)}
    print(json.dumps(out, indent=2, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input or missing dataset)."""
    args = build_parser().parse_args(argv)
    progress = not args.quiet and sys.stderr.isatty()
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "generate" and args.kind == "pointmaze":
            _generate_pointmaze(args, progress)
        elif args.command == "generate":
            _generate_locomotion(args, progress)
        elif args.command == "list":
            _list(args)
        else:
            _info(args)
    except RRGymError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
