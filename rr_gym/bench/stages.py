"""The bench's stages: datasets, diffusion models, rewards, evaluation, retraining, steering.

Each ``stage_<name>(run, state)`` builds (or finds in the cache) its units, emits their
result rows, and returns what later stages need; a stage asks for the stages it depends
on through :func:`needs`, so any subset of stages can be run.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from rr_gym.bench.cache import BuildContext, CachedUnit, config_hash
from rr_gym.bench.data import PairData, build_dataset_unit, dataset_source
from rr_gym.bench.methods import METHODS, DiffusionModels, FitContext
from rr_gym.bench.pairs import DatasetRef, PairSpec
from rr_gym.bench.runner import BenchRun, row, seeds_and_pairs, write_rows
from rr_gym.errors import ConfigError
from rr_gym.utils.io import atomic_write_text

__all__ = [
    "DataRefs",
    "ModelRef",
    "needs",
    "stage_datasets",
    "stage_diffusion",
    "stage_evaluate",
    "stage_retrain",
    "stage_rewards",
    "stage_steering",
]

logger = logging.getLogger(__name__)

State = dict[str, Any]


def needs(run: BenchRun, state: State, stage: str) -> Any:
    """The output of ``stage``, running it first when this run has not yet."""
    if stage not in state:
        state[stage] = globals()[f"stage_{stage}"](run, state)
    return state[stage]


def _units(run: BenchRun, stage: str, items: list[Any], desc: str | None = None) -> Any:
    return tqdm(items, desc=desc or stage, unit="unit", disable=not run.progress)


@dataclass(frozen=True)
class DataRefs:
    """Where a pair's datasets are: what ``load_dataset`` opens, and cache keys."""

    sources: dict[str, str]
    keys: dict[str, str]
    summaries: dict[str, dict[str, Any]]

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
    """A trained model in the cache (``path`` None: the env's own reward)."""

    key: str
    path: Path | None
    produces: str = "reward"


# ---------------------------------------------------------------------------------- datasets


def _build_dataset(run: BenchRun, ref: DatasetRef) -> Callable[[BuildContext], None]:
    def build(ctx: BuildContext) -> None:
        from rr_gym.data.loading import load_dataset

        build_dataset_unit(ref.unit, ctx.path, progress=run.progress)
        summary = {}
        for folder in sorted(p.parent for p in ctx.path.rglob("data/metadata.json")):
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

    out: dict[str, DataRefs] = {}
    for pair in _units(run, "datasets", run.pairs):
        sources, keys, summaries = {}, {}, {}
        for role in ("base", "expert"):
            ref: DatasetRef = getattr(pair, role)
            if ref.unit.get("source") == "minari":
                load_dataset(ref.dataset_id)  # DatasetNotFoundError offline, naming the id
                sources[role] = dataset_source(ref, None)
                keys[role] = config_hash("datasets", ref.unit)
                summaries[role] = {}
                continue
            unit = run.cache.run("datasets", ref.unit, _build_dataset(run, ref))
            run.record("datasets", unit)
            sources[role] = dataset_source(ref, unit.path)
            keys[role] = unit.key
            summary = json.loads((unit.path / "summary.json").read_text())
            summaries[role] = summary.get(ref.dataset_id, {})
        out[pair.name] = DataRefs(sources, keys, summaries)
    return out


# ---------------------------------------------------------------------------------- diffusion


def _diffusion_sizes(pair: PairSpec) -> dict[str, Any]:
    sizes = dict(pair.sizes.get("diffusion") or {})
    for key in ("horizon", "steps"):
        if key not in sizes:
            raise ConfigError(f"pair {pair.name}: sizes.diffusion.{key} is missing")
    return sizes


def _train_diffusion(run: BenchRun, pair: PairSpec, refs: DataRefs, role: str, seed: int) -> Any:
    def build(ctx: BuildContext) -> None:
        import rr_gym

        sizes = _diffusion_sizes(pair)
        data = refs.data(pair)
        horizon, stride = int(sizes["horizon"]), int(sizes.get("stride", 1))
        norm = data.windows("base", horizon=horizon, stride=stride).fit_normalizer(
            sizes.get("normalizer", "gaussian")
        )
        windows = data.windows(role, horizon=horizon, stride=stride)  # type: ignore[arg-type]
        model = rr_gym.train_diffusion(
            windows,
            horizon=horizon,
            steps=int(sizes["steps"]),
            seed=seed,
            device=run.device,
            denoiser=sizes.get("denoiser", "mlp"),
            network=sizes.get("network"),
            n_diffusion_steps=int(sizes.get("n_diffusion_steps", 20)),
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
    """Base and expert diffusion models per (pair, seed); the normaliser is fit on the base
    data, so one base model serves every expert of the same base (maze goals)."""
    datasets = needs(run, state, "datasets")
    out: dict[tuple[str, int], dict[str, ModelRef]] = {}
    for pair, seed in _units(run, "diffusion", seeds_and_pairs(run)):
        refs: DataRefs = datasets[pair.name]
        models = {}
        for role in ("base", "expert"):
            ref: DatasetRef = getattr(pair, role)
            config = {
                "dataset": ref.unit,
                "dataset_id": ref.dataset_id,
                "normalizer_data": [pair.base.unit, pair.base.dataset_id],
                "diffusion": _diffusion_sizes(pair),
                "holdout_every": pair.sizes.get("holdout_every", 10),
                "seed": seed,
            }
            unit = run.cache.run(
                "diffusion",
                config,
                _train_diffusion(run, pair, refs, role, seed),
                inputs=[refs.keys[role], refs.keys["base"]],
            )
            run.record("diffusion", unit)
            models[role] = ModelRef(unit.key, unit.path / "model")
        out[(pair.name, seed)] = models
    return out


def load_models(run: BenchRun, refs: dict[str, ModelRef]) -> DiffusionModels:
    """The loaded base and expert models of a (pair, seed)."""
    return DiffusionModels(run.load(refs["base"].path), run.load(refs["expert"].path))


# ---------------------------------------------------------------------------------- rewards


def _method_config(run: BenchRun, pair: PairSpec, name: str, seed: int) -> dict[str, Any]:
    method = run.methods[name]
    impl = METHODS[method["kind"]]
    return {
        "method": method,
        "pair": {"name": pair.name, "kind": pair.kind, "options": pair.options},
        "sizes": {
            s: pair.sizes.get(s) for s in (*getattr(impl, "size_sections", ()), "holdout_every")
        },
        "seed": seed,
    }


def stage_rewards(run: BenchRun, state: State) -> dict[tuple[str, str, int], ModelRef]:
    """Fit every method on every (pair, seed)."""
    from rr_gym.bench.retrain import flat_env

    datasets = needs(run, state, "datasets")
    needs_models = any(METHODS[m["kind"]].needs_diffusion for m in run.methods.values())
    diffusion = needs(run, state, "diffusion") if needs_models else {}
    out: dict[tuple[str, str, int], ModelRef] = {}
    items = [(p, s, m) for p, s in seeds_and_pairs(run) for m in run.methods]
    for pair, seed, name in _units(run, "rewards", items):
        refs: DataRefs = datasets[pair.name]
        impl = METHODS[run.methods[name]["kind"]]
        inputs = [refs.keys["base"], refs.keys["expert"]]
        model_refs = diffusion.get((pair.name, seed)) if impl.needs_diffusion else None
        if model_refs is not None:
            inputs += [model_refs["base"].key, model_refs["expert"].key]

        def build(
            ctx: BuildContext,
            pair: PairSpec = pair,
            seed: int = seed,
            name: str = name,
            refs: DataRefs = refs,
            model_refs: Any = model_refs,
        ) -> None:
            options = {k: v for k, v in run.methods[name].items() if k != "kind"}
            fit_ctx = FitContext(
                pair=pair,
                data=refs.data(pair),
                seed=seed,
                options=options,
                device=run.device,
                progress=run.progress,
                work_dir=ctx.work_dir,
                models=None if model_refs is None else (lambda: load_models(run, model_refs)),
                agent_env=lambda: flat_env(pair),
            )
            impl = METHODS[run.methods[name]["kind"]]
            tick = time.perf_counter()
            fitted = impl.fit(fit_ctx)
            seconds = time.perf_counter() - tick
            if fitted.model is not None:
                fitted.model.save(ctx.path / "model")
            info = {"produces": impl.produces, "has_model": fitted.model is not None, **fitted.info}
            atomic_write_text(ctx.path / "info.json", json.dumps(info, indent=1, default=str))
            write_rows(ctx.path, [row(pair.name, name, seed, "fit_seconds", seconds, seconds)])

        unit = run.cache.run("rewards", _method_config(run, pair, name, seed), build, inputs=inputs)
        run.record("rewards", unit)
        run.emit(unit)
        info = json.loads((unit.path / "info.json").read_text())
        path = unit.path / "model" if info["has_model"] else None
        out[(pair.name, name, seed)] = ModelRef(unit.key, path, info["produces"])
    return out


# ---------------------------------------------------------------------------------- evaluate


def stage_evaluate(run: BenchRun, state: State) -> dict[tuple[str, str, int], Path]:
    """Reward-quality metrics of every reward method (see :mod:`rr_gym.bench.evaluation`)."""
    from rr_gym.bench.evaluation import evaluate_reward

    datasets = needs(run, state, "datasets")
    rewards = needs(run, state, "rewards")
    out: dict[tuple[str, str, int], Path] = {}
    items = [(p, s, m) for p, s in seeds_and_pairs(run) for m in run.reward_methods()]
    for pair, seed, name in _units(run, "evaluate", items):
        reward: ModelRef = rewards[(pair.name, name, seed)]
        refs: DataRefs = datasets[pair.name]
        config = {
            "evaluate": pair.sizes.get("evaluate") or {},
            "n_diffusion_steps": (pair.sizes.get("diffusion") or {}).get("n_diffusion_steps"),
            "holdout_every": pair.sizes.get("holdout_every", 10),
            "pair": {"name": pair.name, "kind": pair.kind, "options": pair.options},
            "method": name,
            "seed": seed,
        }

        def build(
            ctx: BuildContext,
            pair: PairSpec = pair,
            seed: int = seed,
            name: str = name,
            reward: ModelRef = reward,
            refs: DataRefs = refs,
        ) -> None:
            model = None if reward.path is None else run.load(reward.path)
            rows = evaluate_reward(pair, name, seed, model, refs.data(pair), ctx.path)
            write_rows(ctx.path, rows)

        unit = run.cache.run(
            "evaluate",
            config,
            build,
            inputs=[reward.key, refs.keys["base"], refs.keys["expert"]],
        )
        run.record("evaluate", unit)
        run.emit(unit)
        out[(pair.name, name, seed)] = unit.path
        run.artifacts.setdefault("evaluate", []).append(
            {"pair": pair.name, "method": name, "seed": seed, "path": str(unit.path)}
        )
    return out


# ---------------------------------------------------------------------------------- retrain


def stage_retrain(run: BenchRun, state: State) -> dict[tuple[str, str, int], Path]:
    """Fresh agents on every learned reward (and BC's own policy), scored on true returns."""
    from rr_gym.bench.retrain import retrain_unit

    datasets = needs(run, state, "datasets")
    rewards = needs(run, state, "rewards")
    out: dict[tuple[str, str, int], Path] = {}
    items = [(p, s, m) for p, s in seeds_and_pairs(run) for m in run.methods]
    for pair, seed, name in _units(run, "retrain", items):
        reward: ModelRef = rewards[(pair.name, name, seed)]
        refs: DataRefs = datasets[pair.name]
        config = {
            "agent": run.agent if reward.produces == "reward" else None,
            "retrain": pair.sizes.get("retrain") or {},
            "pair": {"name": pair.name, "kind": pair.kind, "options": pair.options},
            "method": name,
            "seed": seed,
        }

        def build(
            ctx: BuildContext,
            pair: PairSpec = pair,
            seed: int = seed,
            name: str = name,
            reward: ModelRef = reward,
            refs: DataRefs = refs,
        ) -> None:
            model = None if reward.path is None else run.load(reward.path)
            rows = retrain_unit(
                pair,
                name,
                seed,
                model,
                reward.produces,
                run.agent,
                refs.summaries,
                device=run.device,
                progress=run.progress,
            )
            write_rows(ctx.path, rows)

        unit = run.cache.run("retrain", config, build, inputs=[reward.key])
        run.record("retrain", unit)
        run.emit(unit)
        out[(pair.name, name, seed)] = unit.path
    return out


# ---------------------------------------------------------------------------------- steering


def stage_steering(run: BenchRun, state: State) -> dict[tuple[str, int], Path]:
    """Base vs reward-guided base vs expert planners, per (pair, seed) of the steered kinds."""
    from rr_gym.bench.steering import steering_unit

    kinds = None
    out: dict[tuple[str, int], Path] = {}
    items = []
    for pair, seed in seeds_and_pairs(run):
        sizes = pair.sizes.get("steering") or {}
        kinds = sizes.get("kinds", ["maze"])
        if pair.kind in kinds and sizes.get("episodes", 0) > 0:
            items.append((pair, seed))
    if not items:
        return out
    diffusion = needs(run, state, "diffusion")
    rewards = needs(run, state, "rewards")
    for pair, seed in _units(run, "steering", items):
        sizes = pair.sizes.get("steering") or {}
        guides = [g for g in sizes.get("guides", ["relative_reward"]) if g in run.methods]
        model_refs = diffusion[(pair.name, seed)]
        guide_refs = {g: rewards[(pair.name, g, seed)] for g in guides}
        config = {
            "steering": sizes,
            "pair": {"name": pair.name, "kind": pair.kind, "options": pair.options},
            "guides": guides,
            "seed": seed,
        }

        def build(
            ctx: BuildContext,
            pair: PairSpec = pair,
            seed: int = seed,
            model_refs: Any = model_refs,
            guide_refs: Any = guide_refs,
        ) -> None:
            models = load_models(run, model_refs)
            loaded = {g: run.load(r.path) for g, r in guide_refs.items() if r.path is not None}
            rows = steering_unit(pair, seed, models, loaded, ctx.path, progress=run.progress)
            write_rows(ctx.path, rows)

        inputs = [model_refs["base"].key, model_refs["expert"].key]
        inputs += [r.key for r in guide_refs.values()]
        unit = run.cache.run("steering", config, build, inputs=inputs)
        run.record("steering", unit)
        run.emit(unit)
        out[(pair.name, seed)] = unit.path
        run.artifacts.setdefault("steering", []).append(
            {"pair": pair.name, "seed": seed, "path": str(unit.path)}
        )
    return out


def unit_rows(unit: CachedUnit) -> list[dict[str, Any]]:
    """The rows stored with a unit (empty when none)."""
    path = unit.path / "rows.json"
    return json.loads(path.read_text()) if path.is_file() else []
