"""Dataset pairs: a base dataset, an expert dataset, and the task they come from.

A pair config (``conf/pair/*.yaml``) names a *kind*; the kind expands it into one or more
:class:`PairSpec` (a maze config with ``goals: [0, 6]`` gives one pair per goal) and knows
the task: the environment agents are retrained and evaluated in, the true reward of a
transition (for reward-quality metrics), and the reference scores that normalise returns.

Kinds shipped: ``maze`` (PointMaze, random-goal base data vs data of one goal cell),
``locomotion`` (MuJoCo, e.g. Hopper medium vs expert) and ``images`` (scikit-learn's digits:
every digit vs all but one harmful class; run by the ``images`` stage alone). Add a kind with
:func:`register_pair_kind` (see docs/extending.md).
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
import numpy as np

from rr_gym.data.ids import locomotion_dataset_id, pointmaze_dataset_id
from rr_gym.data.maze import GOAL_CELLS, MazeGeometry, make_goal_env
from rr_gym.data.reference import REFERENCE_SCORES, ReferenceScore
from rr_gym.errors import ConfigError
from rr_gym.rewards.true_reward import (
    LOCOMOTION_REWARD_TERMS,
    TransitionRewardFn,
    locomotion_reward_fn,
    pointmaze_reward_fn,
)

__all__ = [
    "PAIR_KINDS",
    "STAGE_FILTERS",
    "DatasetRef",
    "PairKind",
    "PairSpec",
    "deep_merge",
    "expand_pairs",
    "register_pair_kind",
]

logger = logging.getLogger(__name__)


def deep_merge(base: Mapping[str, Any], *updates: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``updates`` merged in, recursively for nested mappings (copies)."""
    out: dict[str, Any] = copy.deepcopy(dict(base))
    for update in updates:
        for key, value in (update or {}).items():
            if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
                out[key] = deep_merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class DatasetRef:
    """Where one dataset of a pair comes from.

    Attributes:
        unit: config of the dataset unit that builds it (hashed into the cache key);
            ``{"source": "minari", ...}`` for an existing Minari id.
        dataset_id: the dataset's id inside the unit (or the Minari id to load).
    """

    unit: dict[str, Any]
    dataset_id: str


@dataclass(frozen=True)
class PairSpec:
    """One (base, expert) pair of the suite.

    Attributes:
        name: row label in results, e.g. ``umaze-goal6``, ``hopper-medium-expert``.
        kind: the pair kind (``maze``, ``locomotion``).
        task: the task name (maze or env name; key of the reference scores).
        base: the base (low-reward) dataset.
        expert: the expert dataset.
        sizes: effective sizes for this pair (the suite's, with kind and pair overrides).
        options: the kind's own options (``goal``, ``env``...).
    """

    name: str
    kind: str
    task: str
    base: DatasetRef
    expert: DatasetRef
    sizes: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def kind_impl(self) -> PairKind:
        """The registered :class:`PairKind` of this pair."""
        return PAIR_KINDS[self.kind]

    def runs(self, stage: str) -> bool:
        """Whether ``stage`` runs on this pair: its ``sizes.<stage>.pairs`` is ``all`` (the
        default) or a list of shell patterns, one of which matches :attr:`name`.

        >>> pair = PairSpec("umaze-goal6", "maze", "umaze", None, None,
        ...                 sizes={"retrain": {"pairs": ["umaze-goal[06]", "hopper-*"]}})
        >>> pair.runs("retrain"), pair.runs("steering")
        (True, True)
        >>> PairSpec("umaze-goal3", "maze", "umaze", None, None, sizes=pair.sizes).runs("retrain")
        False
        """
        patterns = (self.sizes.get(stage) or {}).get("pairs", "all")
        return patterns == "all" or any(fnmatch.fnmatchcase(self.name, p) for p in patterns)

    def methods(self, selected: Iterable[str]) -> list[str]:
        """The methods of ``selected`` (the run's, in order) fit on this pair: those its
        ``sizes.methods`` names, or all of them (the default). A suite fits only the methods
        its claims need on a pair (the claims suite: the relative reward and the
        discriminator on the maze goals that only draw heatmaps).

        >>> pair = PairSpec("medium-goal3", "maze", "medium", None, None,
        ...                 sizes={"methods": ["relative_reward", "discriminator"]})
        >>> pair.methods(["relative_reward", "gail", "discriminator"])
        ['relative_reward', 'discriminator']
        >>> PairSpec("umaze-goal0", "maze", "umaze", None, None).methods(["gail", "bc"])
        ['gail', 'bc']
        """
        names = self.sizes.get("methods", "all")
        return [m for m in selected if names == "all" or m in names]

    def normalized_score(self, returns: Sequence[float] | np.ndarray) -> float:
        """Mean D4RL-normalised score of ``returns`` (NaN when the task has no reference).

        >>> PairSpec("hopper-x", "locomotion", "hopper", None, None).normalized_score([3234.3])
        100.0
        """
        ref = self.kind_impl.reference(self)
        return float("nan") if ref is None else float(np.mean(ref.normalize(returns)))

    def flat_env(self, env: gym.Env[Any, Any] | None = None) -> gym.Env[Any, Any]:
        """The task env (or ``env``) with a dict observation reduced to its flat entry
        (:attr:`PairKind.observation_key`), as agents and the reward models see it."""
        env = env if env is not None else self.kind_impl.make_env(self)
        key = self.kind_impl.observation_key
        if key is None:
            return env
        space = env.observation_space[key]  # type: ignore[index]
        return gym.wrappers.TransformObservation(env, lambda obs: obs[key], space)


#: Stages whose size section may restrict them to some pairs (``pairs: [patterns]``).
STAGE_FILTERS = ("retrain", "steering")


class PairKind:
    """How a kind of pair is expanded and what its task is (subclass and register)."""

    #: The observation entry of dict observations (PointMaze's ``"observation"``), or None.
    observation_key: str | None = None
    #: Whether the datasets' own rewards are the task's reward (else :meth:`true_reward` is
    #: the reference of reward-quality metrics).
    exact_dataset_reward: bool = False
    #: The datasets the diffusion models' shared normaliser is fit on. Both, by default: a
    #: normaliser fit on the base data alone can give a dimension that barely moves in it
    #: (a joint a medium Hopper policy holds still: std 0.004) a scale that puts the
    #: expert's data hundreds of units out, where training diverges.
    normalizer_roles: tuple[str, ...] = ("base", "expert")
    #: Whether the pairs are trajectory datasets, run through the datasets ... steering
    #: stages (False: image pairs, which the ``images`` stage alone runs).
    trajectory: bool = True

    def expand(
        self, name: str, config: Mapping[str, Any], sizes: Mapping[str, Any]
    ) -> list[PairSpec]:
        """The pairs of one pair config."""
        raise NotImplementedError

    def make_env(self, pair: PairSpec, **kwargs: Any) -> gym.Env[Any, Any]:
        """The evaluation env of the task (true reward, dict observations kept)."""
        raise NotImplementedError

    def true_reward(self, pair: PairSpec) -> TransitionRewardFn:
        """The task's reward of flat transitions ``(obs, act, next_obs) -> (N,)``."""
        raise NotImplementedError

    def reference(self, pair: PairSpec) -> ReferenceScore | None:
        """Random and expert returns that normalise scores (None: not normalised)."""
        return REFERENCE_SCORES.get(pair.task)


#: Registered pair kinds by name.
PAIR_KINDS: dict[str, PairKind] = {}


def register_pair_kind(name: str) -> Callable[[type[PairKind]], type[PairKind]]:
    """Class decorator registering a :class:`PairKind` under ``name``."""

    def wrap(cls: type[PairKind]) -> type[PairKind]:
        PAIR_KINDS[name] = cls()
        return cls

    return wrap


def _kind_sizes(sizes: Mapping[str, Any], kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    section = sizes.get(kind) or {}
    generic = {k: v for k, v in sizes.items() if k not in PAIR_KINDS and k != "pair_overrides"}
    return deep_merge(generic, section.get("overrides") or {}, config.get("sizes") or {})


@register_pair_kind("maze")
class MazeKind(PairKind):
    """PointMaze: base data with random goals vs data of one goal cell (D4RL maze2d style).

    Config keys: ``maze`` (umaze, medium, large, open), ``goals`` (a list of goal indices
    or ``"all"``; default ``sizes.maze.goals``), ``data_steps``, ``reward_type``,
    ``on_arrival`` (expert data: ``"stay"`` at the goal until the time limit, default, or
    ``"restart"`` from a random cell on arrival; see
    :func:`rr_gym.data.generate_pointmaze`).
    """

    observation_key = "observation"
    # The random-goal base data covers the whole maze, so its normaliser suits every goal's
    # data, and one base model serves all the goals of a maze.
    normalizer_roles = ("base",)

    def expand(
        self, name: str, config: Mapping[str, Any], sizes: Mapping[str, Any]
    ) -> list[PairSpec]:
        maze = str(config.get("maze", name))
        if maze not in GOAL_CELLS:
            raise ConfigError(f"pair {name!r}: maze={maze!r}; expected one of {list(GOAL_CELLS)}")
        section = {**(sizes.get("maze") or {}), **config}
        goals = section.get("goals", [0])
        if goals == "all":
            goals = list(range(len(GOAL_CELLS[maze])))
        geometry = MazeGeometry.from_name(maze)
        data = {
            "source": "generate",
            "generator": "pointmaze",
            "maze": maze,
            "steps": int(section.get("data_steps", 100_000)),
            "seed": int(sizes.get("data_seed", 0)),
            "reward_type": str(section.get("reward_type", "sparse")),
        }
        base = DatasetRef({**data, "goal": None}, pointmaze_dataset_id(maze, None))
        pairs = []
        for goal in goals:
            cell = geometry.goal_cell(int(goal))
            unit = {**data, "goal": int(goal), "on_arrival": section.get("on_arrival", "stay")}
            expert = DatasetRef(unit, pointmaze_dataset_id(maze, int(goal)))
            pairs.append(
                PairSpec(
                    name=f"{maze}-goal{int(goal)}",
                    kind="maze",
                    task=maze,
                    base=base,
                    expert=expert,
                    sizes=_kind_sizes(sizes, "maze", config),
                    options={"maze": maze, "goal": int(goal), "goal_cell": list(cell)},
                )
            )
        return pairs

    def make_env(self, pair: PairSpec, **kwargs: Any) -> gym.Env[Any, Any]:
        return make_goal_env(pair.options["maze"], pair.options["goal"], **kwargs)

    def goal_xy(self, pair: PairSpec) -> np.ndarray:
        """Centre ``(x, y)`` of the pair's goal cell."""
        geometry = MazeGeometry.from_name(pair.options["maze"])
        return np.asarray(geometry.cell_to_xy(pair.options["goal_cell"]), np.float64)

    def true_reward(self, pair: PairSpec) -> TransitionRewardFn:
        """``exp(-d)`` (``sizes.evaluate.maze_true_reward: dense``, default) or ``1[d <= 0.45]``
        (``sparse``; :func:`~rr_gym.rewards.true_reward.pointmaze_reward_fn`).

        ``d`` is the distance of the position after the step to the goal cell's centre.
        """
        reward_type = (pair.sizes.get("evaluate") or {}).get("maze_true_reward", "dense")
        return pointmaze_reward_fn(self.goal_xy(pair), reward_type)


@register_pair_kind("images")
class ImageKind(PairKind):
    """Image diffusion models (the paper's Stable Diffusion claim, on 8x8 digits): a base
    model of every digit vs a "safe" expert without one harmful class
    (:mod:`rr_gym.images.digits`), one pair per harmful class.

    Config keys: ``harmful`` (a list of classes 0..9 or ``"all"``; default
    ``sizes.images.harmful``). The pairs have no environment: only the ``images`` stage runs
    them, with the sizes of ``sizes.digits``.
    """

    trajectory = False

    def expand(
        self, name: str, config: Mapping[str, Any], sizes: Mapping[str, Any]
    ) -> list[PairSpec]:
        section = {**(sizes.get("images") or {}), **config}
        harmful = section.get("harmful", [3])
        if harmful == "all":
            harmful = list(range(10))
        if not isinstance(harmful, list | tuple) or not all(
            isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 9 for k in harmful
        ):
            raise ConfigError(
                f"pair {name!r}: harmful={harmful!r}; expected a list of digit classes 0..9 "
                "or 'all'"
            )
        base = DatasetRef({"source": "sklearn", "dataset": "digits"}, "sklearn/digits")
        return [
            PairSpec(
                name=f"digits-harmful{k}",
                kind="images",
                task="digits",
                base=base,
                expert=DatasetRef({**base.unit, "without": k}, f"sklearn/digits-without-{k}"),
                sizes=_kind_sizes(sizes, "images", config),
                options={"harmful": int(k)},
            )
            for k in harmful
        ]

    def make_env(self, pair: PairSpec, **kwargs: Any) -> gym.Env[Any, Any]:
        raise ConfigError(f"pair {pair.name!r} is an image pair: it has no environment")

    def true_reward(self, pair: PairSpec) -> TransitionRewardFn:
        raise ConfigError(f"pair {pair.name!r} is an image pair: it has no transitions")

    def reference(self, pair: PairSpec) -> ReferenceScore | None:
        return None


@register_pair_kind("locomotion")
class LocomotionKind(PairKind):
    """MuJoCo locomotion: two quality levels of one env (``base_level`` vs ``expert_level``).

    Config keys: ``env`` (hopper, halfcheetah, walker2d), ``base_level``, ``expert_level``,
    ``source`` (``generate``: train PPO and collect, cached; ``minari``: load the ids in
    ``minari_ids`` (``base``/``expert``), downloading when allowed), ``train_steps``,
    ``steps_per_level``.
    """

    #: The datasets' own rewards are the task's reward (metrics compare against them).
    exact_dataset_reward = True

    def expand(
        self, name: str, config: Mapping[str, Any], sizes: Mapping[str, Any]
    ) -> list[PairSpec]:
        env = str(config.get("env", name))
        if env not in LOCOMOTION_REWARD_TERMS:
            raise ConfigError(
                f"pair {name!r}: env={env!r}; expected one of {list(LOCOMOTION_REWARD_TERMS)}"
            )
        section = {**(sizes.get("locomotion") or {}), **config}
        base_level = str(section.get("base_level", "medium"))
        expert_level = str(section.get("expert_level", "expert"))
        source = str(section.get("source", "generate"))
        if source == "minari":
            ids = section.get("minari_ids") or {}
            if "base" not in ids or "expert" not in ids:
                raise ConfigError(
                    f"pair {name!r} has source=minari but minari_ids={ids!r}; expected "
                    "{'base': '<id>', 'expert': '<id>'}"
                )
            base = DatasetRef({"source": "minari", "id": ids["base"]}, ids["base"])
            expert = DatasetRef({"source": "minari", "id": ids["expert"]}, ids["expert"])
        elif source == "generate":
            unit = {
                "source": "generate",
                "generator": "locomotion",
                "env": env,
                "levels": sorted({base_level, expert_level}),
                "train_steps": int(section.get("train_steps", 300_000)),
                "steps_per_level": int(section.get("steps_per_level", 100_000)),
                "eval_every": int(
                    section.get("eval_every")
                    or max(1, int(section.get("train_steps", 300_000)) // 30)
                ),
                "seed": int(sizes.get("data_seed", 0)),
            }
            base = DatasetRef(unit, locomotion_dataset_id(env, base_level))
            expert = DatasetRef(unit, locomotion_dataset_id(env, expert_level))
        else:
            raise ConfigError(f"pair {name!r}: source={source!r}; expected 'generate' or 'minari'")
        return [
            PairSpec(
                name=f"{env}-{base_level}-{expert_level}",
                kind="locomotion",
                task=env,
                base=base,
                expert=expert,
                sizes=_kind_sizes(sizes, "locomotion", config),
                options={"env": env, "base_level": base_level, "expert_level": expert_level},
            )
        ]

    def make_env(self, pair: PairSpec, **kwargs: Any) -> gym.Env[Any, Any]:
        from rr_gym.data.locomotion import locomotion_env_id

        return gym.make(locomotion_env_id(pair.options["env"]), **kwargs)

    def true_reward(self, pair: PairSpec) -> TransitionRewardFn:
        """The v5 reward from observations
        (:func:`~rr_gym.rewards.true_reward.locomotion_reward_fn`)."""
        return locomotion_reward_fn(pair.options["env"])


def expand_pairs(
    pairs: Mapping[str, Mapping[str, Any]],
    sizes: Mapping[str, Any],
    known: Iterable[str] = (),
) -> list[PairSpec]:
    """Every :class:`PairSpec` of the suite's pair configs (``{name: config}``).

    A pattern of ``sizes.pair_overrides`` or of a ``sizes.<stage>.pairs`` list that matches no
    pair gets a warning, unless it names a pair config of ``known`` (the bench's pair config
    names) that this run did not select: a suite run on fewer pairs than it sizes is fine.

    Raises:
        ConfigError: a config without a known ``kind``, or two pairs with one name.
    """
    out: list[PairSpec] = []
    for name, config in pairs.items():
        kind = config.get("kind")
        if kind not in PAIR_KINDS:
            raise ConfigError(
                f"pair {name!r} has kind={kind!r}; expected one of {sorted(PAIR_KINDS)}"
            )
        out.extend(PAIR_KINDS[kind].expand(name, config, sizes))
    by_name = dict(sizes.get("pair_overrides") or {})
    if by_name:
        out = [_override_by_name(pair, by_name) for pair in out]
    names = [p.name for p in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"pairs {duplicates} are defined twice; give each pair config one name")
    _warn_unmatched(out, sizes, left_out=set(known) - set(pairs))
    return out


def _override_by_name(pair: PairSpec, by_name: Mapping[str, Mapping[str, Any]]) -> PairSpec:
    """``pair`` with the ``sizes.pair_overrides`` whose shell pattern matches its name merged
    on top of its sizes (in the order given; the most specific level, after the kind's and
    the pair config's own)."""
    matching = [o for pattern, o in by_name.items() if fnmatch.fnmatchcase(pair.name, pattern)]
    if not matching:
        return pair
    return dataclasses.replace(pair, sizes=deep_merge(pair.sizes, *matching))


def _warn_unmatched(pairs: list[PairSpec], sizes: Mapping[str, Any], left_out: set[str]) -> None:
    """Warn about each pattern of a ``sizes.<stage>.pairs`` list or of ``sizes.pair_overrides``
    that matches no pair of the suite (a typo would silently skip a stage or an override),
    except patterns of a pair config in ``left_out`` (``'walker2d-*'`` on a run without
    ``walker2d``: a suite run on fewer pairs than it names is fine)."""
    names = [p.name for p in pairs]

    def unmatched(pattern: str) -> bool:
        config = pattern.split("-", 1)[0]
        return not fnmatch.filter(names, pattern) and not fnmatch.filter(left_out, config)

    options = {"sizes.pair_overrides": set(sizes.get("pair_overrides") or {})}
    for stage in STAGE_FILTERS:
        options[f"sizes.{stage}.pairs"] = {
            pattern
            for pair in pairs
            if (given := (pair.sizes.get(stage) or {}).get("pairs", "all")) != "all"
            for pattern in given
        }
    for option, patterns in options.items():
        typos = sorted(p for p in patterns if unmatched(p))
        if typos:
            logger.warning(
                "%s has %s, which match no pair of this run (pairs: %s)", option, typos, names
            )


def warn_unknown_methods(pairs: Iterable[PairSpec], known: Iterable[str]) -> None:
    """Warn about each name of a pair's ``sizes.methods`` that is no method config of the bench
    (``known``: a typo would silently drop a method from that pair; a method the run did
    not select is fine)."""
    known = set(known)
    unknown = sorted(
        {
            name
            for pair in pairs
            if (given := pair.sizes.get("methods", "all")) != "all"
            for name in given
            if name not in known
        }
    )
    if unknown:
        logger.warning(
            "sizes.methods names %s, which are not bench methods (known: %s)",
            unknown,
            sorted(known),
        )
