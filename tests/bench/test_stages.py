"""Each stage planned alone through the registry, on the smoke suite: what units it plans, for
which pairs, before anything is built."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rr_gym.bench.context import BenchRun
from rr_gym.bench.options import STAGES
from rr_gym.bench.runner import make_run
from rr_gym.bench.stages import PLANNERS, needs


@pytest.fixture
def smoke_run(make_config, tmp_path: Path) -> BenchRun:
    config = make_config("suite=smoke", "seeds=[0,1]", "progress=false")
    run, _ = make_run(config, out_dir=tmp_path / "out")
    return run


def _planned(run: BenchRun) -> Counter[str]:
    return Counter(unit.stage for unit in run.plan)


def test_every_stage_but_the_report_has_a_planner() -> None:
    assert list(PLANNERS) == [s for s in STAGES if s != "report"]


def test_the_datasets_stage_plans_each_dataset_once(smoke_run: BenchRun) -> None:
    refs = PLANNERS["datasets"](smoke_run, {})
    trajectory = [p for p in smoke_run.pairs if p.kind_impl.trajectory]
    assert sorted(refs) == sorted(p.name for p in trajectory)
    # one unit per generation run: a locomotion pair's two levels come from one PPO run
    keys = {key for ref in refs.values() for key in ref.keys.values()}
    assert {unit.key for unit in smoke_run.plan} == keys
    assert _planned(smoke_run) == {"datasets": 3}  # UMaze base, UMaze goal 6, Hopper
    assert not any(unit.path.exists() for unit in smoke_run.plan)  # planned, not built


def test_a_stage_plans_the_stages_it_needs_first(smoke_run: BenchRun) -> None:
    state: dict[str, Any] = {}
    rewards = needs(smoke_run, state, "rewards")
    assert list(state) == ["datasets", "diffusion", "rewards"]
    order = [unit.stage for unit in smoke_run.plan]
    assert order.index("rewards") > max(i for i, s in enumerate(order) if s == "diffusion")
    trajectory = [p for p in smoke_run.pairs if p.kind_impl.trajectory]
    selected = list(smoke_run.methods)
    expected = {
        (p.name, m, seed)
        for p in trajectory
        for m in p.methods(selected)
        for seed in smoke_run.seeds
    }
    assert set(rewards) == expected
    # base and expert model of each pair and seed (pairs of a maze share their base model)
    assert set(state["diffusion"]) == {(p.name, s) for p in trajectory for s in smoke_run.seeds}
    assert all(set(models) == {"base", "expert"} for models in state["diffusion"].values())
    before = len(smoke_run.plan)
    assert needs(smoke_run, state, "rewards") is rewards and len(smoke_run.plan) == before


def test_stages_restricted_to_some_pairs_plan_only_those(make_config, tmp_path: Path) -> None:
    config = make_config(
        "suite=smoke", "seeds=[0]", "progress=false", "sizes.steering.pairs=[umaze-goal6]"
    )
    run, _ = make_run(config, out_dir=tmp_path / "out")
    steering = PLANNERS["steering"](run, {})
    assert sorted(steering) == [("umaze-goal6", 0)]
    images = PLANNERS["images"](run, {})
    assert sorted(images) == [(p.name, 0) for p in run.pairs if not p.kind_impl.trajectory]
