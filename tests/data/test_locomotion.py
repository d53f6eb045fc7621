"""Locomotion: PPO checkpoints, level selection, datasets, determinism (tiny budgets)."""

from __future__ import annotations

import random
from pathlib import Path

import minari
import numpy as np
import pytest
import torch

from rr_gym.data.locomotion import (
    PolicySnapshot,
    TrainingRun,
    collect_episodes,
    parse_levels,
    train_ppo,
)
from rr_gym.data.locomotion_datasets import generate_locomotion
from rr_gym.data.policies import MLPPolicy
from rr_gym.data.storage import EpisodeArrays, dataset_content_hash
from rr_gym.errors import ConfigError

TINY_PPO = {"n_steps": 256, "batch_size": 64, "n_epochs": 1}


def _policy() -> MLPPolicy:
    return MLPPolicy(
        (np.zeros((3, 11)),), (np.zeros(3),), np.zeros(3), "tanh", -np.ones(3), np.ones(3)
    )


def _run(returns: list[float]) -> TrainingRun:
    ckpts = tuple(PolicySnapshot(1000 * (i + 1), r, 0.0, _policy()) for i, r in enumerate(returns))
    eps = [
        EpisodeArrays(
            np.zeros((3, 11)),
            np.zeros((2, 3), np.float32),
            np.ones(2),
            np.zeros(2, bool),
            np.ones(2, bool),
        )
        for _ in range(5)
    ]
    return TrainingRun("Hopper-v5", 0, 5000, ckpts, eps, np.array([500, 1000, 1500, 2500, 4000]))


def test_expert_and_medium_selection() -> None:
    run = _run([100.0, 900.0, 1200.0, 3000.0, 2000.0, 3100.0])
    assert run.expert().timestep == 6000
    assert run.medium().timestep == 2000  # 900 is closest to 3100 / 3 among earlier ones
    assert len(run.replay_until(run.medium().timestep)) == 3
    assert len(run.replay_until(10_000)) == 5
    late_medium = _run([3000.0, 100.0, 1000.0])  # expert first: only itself is "up to" it
    assert late_medium.medium().timestep == 1000


def test_collect_random_episodes_is_deterministic() -> None:
    a = list(collect_episodes("Hopper-v5", None, steps=300, seed=3, progress=False))
    b = list(collect_episodes("Hopper-v5", None, steps=300, seed=3, progress=False))
    assert sum(len(e) for e in a) == 300 and a[-1].truncations[-1]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.observations, y.observations)
        np.testing.assert_array_equal(x.actions, y.actions)
        assert x.observations.shape == (len(x) + 1, 11) and x.actions.shape == (len(x), 3)


def test_train_ppo_tiny_budget_restores_global_state() -> None:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    threads = torch.get_num_threads()
    expected = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    run = train_ppo(
        "hopper",
        total_steps=512,
        seed=0,
        eval_every=256,
        eval_episodes=1,
        ppo_kwargs=TINY_PPO,
        progress=False,
    )
    assert (random.random(), np.random.random(), torch.rand(1).item()) == expected
    assert torch.get_num_threads() == threads
    assert [c.timestep for c in run.checkpoints] == [256, 512]
    assert run.rollouts and int(run.rollout_end_steps[-1]) <= 512
    assert all(np.all(np.abs(ep.actions) <= 1.0) for ep in run.rollouts)


def test_generate_locomotion_all_levels_twice_same_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = []
    for i in range(2):
        monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / str(i)))
        result = generate_locomotion(
            "hopper",
            train_steps=1024,
            steps_per_level=400,
            seed=7,
            eval_every=256,
            eval_episodes=1,
            ppo_kwargs=TINY_PPO,
            progress=False,
        )
        assert set(result.datasets) == {"random", "medium", "medium-replay", "expert"}
        hashes.append(
            {
                lv: dataset_content_hash(minari.load_dataset(r.dataset_id))
                for lv, r in result.datasets.items()
            }
        )
    assert hashes[0] == hashes[1]
    assert len(set(hashes[0].values())) == 4
    ds = minari.load_dataset("rr_gym/hopper-expert-v0")
    extra = ds.storage.metadata["rr_gym"]
    assert extra["level"] == "expert" and extra["reference_score"] == {
        "random": -20.27,
        "expert": 3234.3,
    }
    assert ds.storage.metadata["ref_max_score"] == 3234.3
    assert ds.total_steps == 400 and ds.env_spec.id == "Hopper-v5"
    assert extra["mean_return"] == pytest.approx(
        np.mean([e.rewards.sum() for e in ds.iterate_episodes()])
    )
    policy = MLPPolicy.load(extra["policy_path"])
    assert policy.info["level"] == "expert" and policy.info["timestep"] == extra["policy_timestep"]
    # the saved policies rebuild medium and expert without training, identically
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "1"))
    again = generate_locomotion(
        "hopper",
        levels="expert",
        steps_per_level=400,
        seed=7,
        reuse_policies=True,
        overwrite=True,
        progress=False,
        policy_dir=Path(extra["policy_path"]).parent,
    )
    assert again.training_steps == 0
    assert (
        dataset_content_hash(minari.load_dataset("rr_gym/hopper-expert-v0")) == hashes[0]["expert"]
    )


def test_random_only_needs_no_training(minari_root: Path) -> None:
    result = generate_locomotion(
        "halfcheetah", levels="random", steps_per_level=200, progress=False
    )
    assert result.training_steps == 0 and result.policy_paths == {}
    assert minari.load_dataset("rr_gym/halfcheetah-random-v0").total_steps == 200


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match=r"unknown locomotion env 'ant'.*hopper"):
        generate_locomotion("ant", levels="random")
    with pytest.raises(ConfigError, match=r"\['great'\].*random"):
        parse_levels("great")
    assert parse_levels("all") == ("random", "medium", "medium-replay", "expert")
    assert parse_levels(" expert, medium ,expert") == ("expert", "medium")
    with pytest.raises(ConfigError, match="medium-replay"):
        generate_locomotion("hopper", levels="medium-replay", reuse_policies=True)
    with pytest.raises(ConfigError, match="no saved expert policy"):
        generate_locomotion("hopper", levels="expert", reuse_policies=True)
