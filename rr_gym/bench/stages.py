"""The bench's stages: datasets, diffusion models, rewards, evaluation, retraining, steering,
and images (image pairs, apart from the trajectory stages).

Each ``stage_<name>(run, state)`` (:data:`PLANNERS` maps stage names to them) plans its
units (:class:`~rr_gym.bench.scheduler.UnitSpec`: a config, the keys of its inputs and a
build function) into ``run.plan`` and returns what later stages need to plan theirs: keys
and folders, known before anything is built. Build functions read their inputs' files only
when they run. A stage asks for the stages it depends on through :func:`needs`, so any
subset of stages can be run; :meth:`~rr_gym.bench.scheduler.UnitPlan.run` then builds
everything as a dependency graph.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rr_gym.bench.cache import BuildContext, config_hash, read_unit_json
from rr_gym.bench.context import BenchRun, row, seeds_and_pairs, write_rows
from rr_gym.bench.data import PairData, build_dataset_unit, dataset_source
from rr_gym.bench.methods import METHODS, DiffusionModels, FitContext
from rr_gym.bench.pairs import DatasetRef, PairSpec
from rr_gym.bench.scheduler import UnitSpec
from rr_gym.errors import ConfigError
from rr_gym.normalizer import Normalizer
from rr_gym.utils.io import atomic_write_text

__all__ = [
    "PLANNERS",
    "DataRefs",
    "ModelRef",
    "needs",
    "stage_datasets",
    "stage_diffusion",
    "stage_evaluate",
    "stage_images",
    "stage_retrain",
    "stage_rewards",
    "stage_steering",
]

logger = logging.getLogger(__name__)

State = dict[str, Any]


def needs(run: BenchRun, state: State, stage: str) -> Any:
    """The output of ``stage``, planning it first when this run has not yet."""
    if stage not in state:
        state[stage] = PLANNERS[stage](run, state)
    return state[stage]


@dataclass(frozen=True)
class DataRefs:
    """Where a pair's datasets are: what ``load_dataset`` opens, and cache keys.

    Attributes:
        sources: role (``base``, ``expert``) -> what ``load_dataset`` opens.
        keys: role -> the dataset unit's key.
        summary_files: role -> (the unit's ``summary.json``, the dataset id), or None for
            a dataset that is not generated.
    """

    sources: dict[str, str]
    keys: dict[str, str]
    summary_files: dict[str, tuple[Path, str] | None]

    def summaries(self) -> dict[str, dict[str, Any]]:
        """Role -> episodes, steps and mean return of the generated datasets (read once
        they are built)."""
        out: dict[str, dict[str, Any]] = {}
        for role, entry in self.summary_files.items():
            if entry is not None:
                out[role] = read_unit_json(entry[0], entry[0].parent).get(entry[1], {})
        return out

    def data(self, pair: PairSpec, progress: bool = False) -> PairData:
        """Train / held-out views of the pair's datasets."""
        return PairData(
            pair,
            self.sources,
            holdout_every=int(pair.sizes.get("holdout_every", 10)),
            progress=progress,
        )


@dataclass(frozen=True)
class ModelRef:
    """A model unit in the cache, planned or built.

    Attributes:
        key: the unit's key.
        unit: the unit's folder.
        produces: ``"reward"`` or ``"policy"``.
    """

    key: str
    unit: Path
    produces: str = "reward"

    @property
    def path(self) -> Path | None:
        """The saved model, or None for a method without one (the env's own reward); read
        when the unit is built."""
        info = self.unit / "info.json"
        if info.is_file() and not read_unit_json(info, self.unit)["has_model"]:
            return None
        return self.unit / "model"


def _pair_config(pair: PairSpec) -> dict[str, Any]:
    return {"name": pair.name, "kind": pair.kind, "options": pair.options}


# ---------------------------------------------------------------------------------- datasets


def _build_dataset(ref: DatasetRef, progress: bool) -> Callable[[BuildContext], None]:
    def build(ctx: BuildContext) -> None:
        from rr_gym.data.loading import load_dataset

        build_dataset_unit(ref.unit, ctx.path, progress=progress)
        summary = {}
        for folder in sorted(p.parent.parent for p in ctx.path.rglob("data/metadata.json")):
            dataset = load_dataset(folder)
            returns = [float(np.sum(e.rewards)) for e in dataset.iterate_episodes()]
            summary[dataset.id] = {
                "episodes": len(returns),
                "steps": int(dataset.total_steps),
                "mean_return": float(np.mean(returns)) if returns else float("nan"),
            }
        atomic_write_text(ctx.path / "summary.json", json.dumps(summary, indent=1))

    return build


def stage_datasets(run: BenchRun, state: State) -> dict[str, DataRefs]:
    """Generate (or find) every pair's datasets; ``source: minari`` ids are loaded (and
    downloaded when allowed), failing fast with the command that builds a substitute."""
    from rr_gym.data.loading import load_dataset

    pairs = [p for p in run.pairs if p.kind_impl.trajectory]
    specs, slots = [], []
    for pair in pairs:
        for role in ("base", "expert"):
            ref: DatasetRef = getattr(pair, role)
            if ref.unit.get("source") == "minari":
                load_dataset(ref.dataset_id)  # DatasetNotFoundError offline, naming the id
                continue
            specs.append(
                UnitSpec(ref.unit, _build_dataset(ref, run.progress and run.jobs <= 1), [])
            )
            slots.append((pair.name, role))
    planned = dict(zip(slots, run.plan.add("datasets", specs), strict=True))
    out: dict[str, DataRefs] = {}
    for pair in pairs:
        sources, keys, summaries = {}, {}, {}
        for role in ("base", "expert"):
            ref = getattr(pair, role)
            unit = planned.get((pair.name, role))
            sources[role] = dataset_source(ref, None if unit is None else unit.path)
            keys[role] = config_hash("datasets", ref.unit) if unit is None else unit.key
            summaries[role] = None if unit is None else (unit.path / "summary.json", ref.dataset_id)
            run.artifacts.setdefault("datasets", []).append(
                {
                    "pair": pair.name,
                    "role": role,
                    "dataset_id": ref.dataset_id,
                    "source": "minari" if unit is None else "generated",
                    "summary": None if unit is None else str(unit.path / "summary.json"),
                }
            )
        out[pair.name] = DataRefs(sources, keys, summaries)
    return out


# ---------------------------------------------------------------------------------- diffusion


def window_shape(pair: PairSpec) -> dict[str, Any]:
    """``horizon``, ``stride`` and ``tail`` of the pair's diffusion windows."""
    sizes = pair.sizes.get("diffusion") or {}
    if "horizon" not in sizes or "steps" not in sizes:
        raise ConfigError(f"pair {pair.name}: sizes.diffusion needs horizon and steps")
    return {
        "horizon": int(sizes["horizon"]),
        "stride": int(sizes.get("stride", 1)),
        "tail": sizes.get("tail", "drop"),
    }


def _train_diffusion(
    run: BenchRun, pair: PairSpec, refs: DataRefs, role: str, seed: int
) -> Callable[[BuildContext], None]:
    def build(ctx: BuildContext) -> None:
        import rr_gym

        sizes = pair.sizes["diffusion"]
        shape = window_shape(pair)
        data = refs.data(pair)
        roles = pair.kind_impl.normalizer_roles
        windows = np.concatenate([data.windows(r, **shape).windows for r in roles])  # type: ignore[arg-type]
        norm = Normalizer.fit(windows, sizes.get("normalizer", "gaussian"))
        model = rr_gym.train_diffusion(
            data.windows(role, **shape),  # type: ignore[arg-type]
            horizon=shape["horizon"],
            steps=int(sizes["steps"]),
            seed=seed,
            device=run.device,
            denoiser=sizes.get("denoiser", "mlp"),
            network=sizes.get("network"),
            n_diffusion_steps=int(sizes.get("n_diffusion_steps", 20)),
            predict_epsilon=sizes.get("predict_epsilon"),
            condition_field=sizes.get("condition_field", "auto"),
            action_weight=sizes.get("action_weight"),
            normalizer=norm,
            batch_size=int(sizes.get("batch_size", 256)),
            lr=float(sizes.get("lr", 2e-4)),
            checkpoint_dir=ctx.work_dir / "train",
            checkpoint_every=max(1, int(sizes["steps"]) // 4),
            resume=True,
            progress=run.progress,
            metadata={"pair": pair.name, "role": role, "seed": seed},
        )
        model.save(ctx.path / "model")

    return build


def stage_diffusion(run: BenchRun, state: State) -> dict[tuple[str, int], dict[str, ModelRef]]:
    """Base and expert diffusion models per (pair, seed), with one normaliser fit on the
    datasets of ``PairKind.normalizer_roles`` (maze: the base data alone, so one base model
    serves every goal of a maze)."""
    datasets = needs(run, state, "datasets")
    specs, slots = [], []
    for pair, seed in seeds_and_pairs(run):
        refs: DataRefs = datasets[pair.name]
        for role in ("base", "expert"):
            ref: DatasetRef = getattr(pair, role)
            config = {
                "dataset": ref.unit,
                "dataset_id": ref.dataset_id,
                "normalizer_data": [
                    [getattr(pair, r).unit, getattr(pair, r).dataset_id]
                    for r in pair.kind_impl.normalizer_roles
                ],
                "diffusion": pair.sizes["diffusion"],
                "holdout_every": pair.sizes.get("holdout_every", 10),
                "seed": seed,
            }
            window_shape(pair)  # validates
            build = _train_diffusion(run, pair, refs, role, seed)
            inputs = [refs.keys[role], *(refs.keys[r] for r in pair.kind_impl.normalizer_roles)]
            specs.append(UnitSpec(config, build, inputs))
            slots.append((pair.name, seed, role))
    out: dict[tuple[str, int], dict[str, ModelRef]] = {}
    for (name, seed, role), unit in zip(slots, run.plan.add("diffusion", specs), strict=True):
        out.setdefault((name, seed), {})[role] = ModelRef(unit.key, unit.path)
    return out


def load_models(run: BenchRun, refs: dict[str, ModelRef]) -> DiffusionModels:
    """The loaded base and expert models of a (pair, seed)."""
    return DiffusionModels(run.load(refs["base"].path), run.load(refs["expert"].path))


# ---------------------------------------------------------------------------------- rewards


def _fit(
    run: BenchRun, pair: PairSpec, name: str, seed: int, refs: DataRefs, models: Any
) -> Callable[[BuildContext], None]:
    def build(ctx: BuildContext) -> None:

        impl = METHODS[run.methods[name]["kind"]]
        fit_ctx = FitContext(
            pair=pair,
            data=refs.data(pair),
            seed=seed,
            options={k: v for k, v in run.methods[name].items() if k != "kind"},
            device=run.device,
            progress=run.progress,
            work_dir=ctx.work_dir,
            models=None if models is None else (lambda: load_models(run, models)),
            agent_env=pair.flat_env,
            window_shape=window_shape(pair) if models is not None else None,
        )
        tick = time.perf_counter()
        fitted = impl.fit(fit_ctx)
        seconds = time.perf_counter() - tick
        if fitted.model is not None:
            fitted.model.save(ctx.path / "model")
        info = {"produces": impl.produces, "has_model": fitted.model is not None, **fitted.info}
        atomic_write_text(ctx.path / "info.json", json.dumps(info, indent=1, default=str))
        write_rows(ctx.path, [row(pair.name, name, seed, "fit_seconds", seconds, seconds)])

    return build


def stage_rewards(run: BenchRun, state: State) -> dict[tuple[str, str, int], ModelRef]:
    """Fit every method on every (pair, seed) (on a pair, the methods its ``sizes.methods``
    names)."""
    datasets = needs(run, state, "datasets")
    needs_models = any(
        METHODS[run.methods[name]["kind"]].needs_diffusion
        for pair in run.pairs
        if pair.kind_impl.trajectory
        for name in pair.methods(run.methods)
    )
    diffusion = needs(run, state, "diffusion") if needs_models else {}
    specs, slots = [], []
    for pair, seed in seeds_and_pairs(run):
        refs: DataRefs = datasets[pair.name]
        for name in pair.methods(run.methods):
            method = run.methods[name]
            impl = METHODS[method["kind"]]
            inputs = [refs.keys["base"], refs.keys["expert"]]
            models = diffusion[(pair.name, seed)] if impl.needs_diffusion else None
            if models is not None:
                inputs += [models["base"].key, models["expert"].key]
            config = {
                "method": method,
                "pair": _pair_config(pair),
                "sizes": {s: pair.sizes.get(s) for s in (*impl.size_sections, "holdout_every")},
                "seed": seed,
            }
            specs.append(UnitSpec(config, _fit(run, pair, name, seed, refs, models), inputs))
            slots.append((pair.name, name, seed))
    out: dict[tuple[str, str, int], ModelRef] = {}
    for (pair_name, name, seed), unit in zip(slots, run.plan.add("rewards", specs), strict=True):
        produces = METHODS[run.methods[name]["kind"]].produces
        out[(pair_name, name, seed)] = ModelRef(unit.key, unit.path, produces)
    return out


# ---------------------------------------------------------------------------------- evaluate


def _evaluate(
    run: BenchRun, pair: PairSpec, name: str, seed: int, reward: ModelRef, refs: DataRefs
) -> Callable[[BuildContext], None]:
    def build(ctx: BuildContext) -> None:
        from rr_gym.bench.evaluation import evaluate_reward

        model = None if reward.path is None else run.load(reward.path)
        write_rows(ctx.path, evaluate_reward(pair, name, seed, model, refs.data(pair), ctx.path))

    return build


def stage_evaluate(run: BenchRun, state: State) -> dict[tuple[str, str, int], Path]:
    """Reward-quality metrics of every reward method (see :mod:`rr_gym.bench.evaluation`)."""
    datasets = needs(run, state, "datasets")
    rewards = needs(run, state, "rewards")
    specs, slots = [], []
    for pair, seed in seeds_and_pairs(run):
        refs: DataRefs = datasets[pair.name]
        for name in pair.methods(run.reward_methods()):
            reward: ModelRef = rewards[(pair.name, name, seed)]
            config = {
                "evaluate": pair.sizes.get("evaluate") or {},
                "n_diffusion_steps": (pair.sizes.get("diffusion") or {}).get("n_diffusion_steps"),
                "holdout_every": pair.sizes.get("holdout_every", 10),
                "pair": _pair_config(pair),
                "method": name,
                "seed": seed,
            }
            inputs = [reward.key, refs.keys["base"], refs.keys["expert"]]
            specs.append(UnitSpec(config, _evaluate(run, pair, name, seed, reward, refs), inputs))
            slots.append((pair.name, name, seed))
    out: dict[tuple[str, str, int], Path] = {}
    for (pair_name, name, seed), unit in zip(slots, run.plan.add("evaluate", specs), strict=True):
        out[(pair_name, name, seed)] = unit.path
        run.artifacts.setdefault("evaluate", []).append(
            {"pair": pair_name, "method": name, "seed": seed, "path": str(unit.path)}
        )
    return out


# ---------------------------------------------------------------------------------- retrain


def _retrain(
    run: BenchRun, pair: PairSpec, name: str, seed: int, reward: ModelRef, refs: DataRefs
) -> Callable[[BuildContext], None]:
    def build(ctx: BuildContext) -> None:
        from rr_gym.bench.retrain import retrain_unit

        model = None if reward.path is None else run.load(reward.path)
        rows = retrain_unit(
            pair,
            name,
            seed,
            model,
            reward.produces,
            run.agent,
            refs.summaries(),
            device=run.device,
            progress=run.progress,
        )
        write_rows(ctx.path, rows)

    return build


def stage_retrain(run: BenchRun, state: State) -> dict[tuple[str, str, int], Path]:
    """Fresh agents on every learned reward (and BC's own policy), scored on true returns,
    on the pairs ``sizes.retrain.pairs`` selects."""
    items = [(pair, seed) for pair, seed in seeds_and_pairs(run) if pair.runs("retrain")]
    if not items:
        return {}
    datasets = needs(run, state, "datasets")
    rewards = needs(run, state, "rewards")
    specs, slots = [], []
    for pair, seed in items:
        refs: DataRefs = datasets[pair.name]
        for name in pair.methods(run.methods):
            reward: ModelRef = rewards[(pair.name, name, seed)]
            config = {
                "agent": run.agent if reward.produces == "reward" else None,
                "retrain": pair.sizes.get("retrain") or {},
                "pair": _pair_config(pair),
                "method": name,
                "seed": seed,
            }
            build = _retrain(run, pair, name, seed, reward, refs)
            specs.append(UnitSpec(config, build, [reward.key]))
            slots.append((pair.name, name, seed))
    return {s: u.path for s, u in zip(slots, run.plan.add("retrain", specs), strict=True)}


# ---------------------------------------------------------------------------------- steering


def _steer(
    run: BenchRun,
    pair: PairSpec,
    seed: int,
    models: dict[str, ModelRef],
    guides: dict[str, ModelRef],
) -> Callable[[BuildContext], None]:
    def build(ctx: BuildContext) -> None:
        from rr_gym.bench.steering import steering_unit

        loaded = {g: run.load(r.path) for g, r in guides.items() if r.path is not None}
        rows = steering_unit(
            pair, seed, load_models(run, models), loaded, ctx.path, progress=run.progress
        )
        write_rows(ctx.path, rows)

    return build


def stage_steering(run: BenchRun, state: State) -> dict[tuple[str, int], Path]:
    """Base vs reward-guided base vs expert planners, per (pair, seed) of the pairs
    ``sizes.steering.pairs`` selects."""
    items = [
        (pair, seed)
        for pair, seed in seeds_and_pairs(run)
        if pair.runs("steering") and (pair.sizes.get("steering") or {}).get("episodes", 0) > 0
    ]
    if not items:
        return {}
    diffusion = needs(run, state, "diffusion")
    rewards = needs(run, state, "rewards")
    specs, slots = [], []
    for pair, seed in items:
        sizes = pair.sizes["steering"]
        fitted = pair.methods(run.methods)
        guides = [g for g in sizes.get("guides", ["relative_reward"]) if g in fitted]
        models = diffusion[(pair.name, seed)]
        guide_refs = {g: rewards[(pair.name, g, seed)] for g in guides}
        config = {"steering": sizes, "pair": _pair_config(pair), "guides": guides, "seed": seed}
        inputs = [models["base"].key, models["expert"].key, *(r.key for r in guide_refs.values())]
        specs.append(UnitSpec(config, _steer(run, pair, seed, models, guide_refs), inputs))
        slots.append((pair.name, seed))
    out: dict[tuple[str, int], Path] = {}
    for (pair_name, seed), unit in zip(slots, run.plan.add("steering", specs), strict=True):
        out[(pair_name, seed)] = unit.path
        run.artifacts.setdefault("steering", []).append(
            {"pair": pair_name, "seed": seed, "path": str(unit.path)}
        )
    return out


# ---------------------------------------------------------------------------------- images


def _images(run: BenchRun, pair: PairSpec, seed: int) -> Callable[[BuildContext], None]:
    def build(ctx: BuildContext) -> None:
        from rr_gym.bench.images import images_unit

        rows = images_unit(
            pair, seed, ctx.path, device=run.device, progress=run.progress and run.jobs <= 1
        )
        write_rows(ctx.path, rows)

    return build


def stage_images(run: BenchRun, state: State) -> dict[tuple[str, int], Path]:
    """The digits experiment (claim d) per (image pair, seed), when the run has the
    relative reward among its methods."""
    items = seeds_and_pairs(run, trajectory=False)
    if not items or "relative_reward" not in run.methods:
        return {}
    missing = [m for m in ("diffusers", "sklearn") if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(
            f"pairs {sorted({p.name for p, _ in items})} need {missing}, of the images extra: "
            "pip install 'rr_gym[images]' (or leave the digits pair out of pair=[...])"
        )
    from rr_gym.bench.images import digits_config

    specs = [
        UnitSpec(
            {"digits": digits_config(pair, seed), "pair": _pair_config(pair)},
            _images(run, pair, seed),
            [],
        )
        for pair, seed in items
    ]
    out: dict[tuple[str, int], Path] = {}
    for (pair, seed), unit in zip(items, run.plan.add("images", specs), strict=True):
        out[(pair.name, seed)] = unit.path
        run.artifacts.setdefault("images", []).append(
            {"pair": pair.name, "seed": seed, "path": str(unit.path)}
        )
    return out


Planner = Callable[[BenchRun, State], Any]

#: Stage name -> the function that plans its units (in the run's stage order).
PLANNERS: dict[str, Planner] = {
    "datasets": stage_datasets,
    "diffusion": stage_diffusion,
    "rewards": stage_rewards,
    "evaluate": stage_evaluate,
    "retrain": stage_retrain,
    "steering": stage_steering,
    "images": stage_images,
}
