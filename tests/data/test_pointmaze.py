"""PointMaze generation: real Minari datasets, metadata, determinism, atomicity, bad input."""

from __future__ import annotations

import functools
from pathlib import Path

import minari
import numpy as np
import pytest

from rr_gym.data import pointmaze
from rr_gym.data.maze import GOAL_CELLS, MazeGeometry
from rr_gym.data.pointmaze import POINTMAZE_LAYOUT, generate_pointmaze
from rr_gym.data.storage import DatasetWriter, dataset_content_hash
from rr_gym.errors import ConfigError


@pytest.mark.usefixtures("umaze_datasets")
def test_expert_dataset_content_and_metadata() -> None:
    ds = minari.load_dataset("rr_gym/pointmaze-umaze-goal1-v0")
    meta = ds.storage.metadata
    extra = meta["rr_gym"]
    assert extra["kind"] == "expert" and extra["maze"] == "umaze"
    assert extra["goal"] == 1 and extra["goal_cell"] == [1, 2]
    assert extra["controller"]["p_gain"] == 3.0
    assert extra["controller"]["d_gain"] == pytest.approx(-(0.3**0.5))
    assert extra["controller"]["waypoint_noise"] == 0.24
    assert extra["seed"] == 0 and extra["reward_type"] == "sparse"
    assert extra["layout"] == POINTMAZE_LAYOUT.to_dict()
    assert extra["reference_score"] == {"random": 23.85, "expert": 161.86}
    assert meta["ref_min_score"] == 23.85 and meta["ref_max_score"] == 161.86
    assert ds.env_spec.id == "PointMaze_UMaze-v3"
    assert ds.env_spec.kwargs["continuing_task"] is False
    # every episode but the last (cut at the step budget) ends on arrival at goal 1
    goal_xy = np.array(MazeGeometry.from_name("umaze").cell_to_xy((1, 2)))
    episodes = list(ds.iterate_episodes())
    for ep in episodes[:-1]:
        assert ep.terminations[-1] and ep.rewards[-1] == 1.0
        assert np.linalg.norm(ep.observations["desired_goal"][0] - goal_xy) <= 0.25 * 2**0.5
    assert extra["mean_return"] == pytest.approx(np.mean([e.rewards.sum() for e in episodes]))
    # Minari can rebuild both the collection env and the evaluation env
    env = ds.recover_environment()
    assert env.spec is not None and env.spec.kwargs["continuing_task"] is False
    eval_env = ds.recover_environment(eval_env=True)
    assert eval_env.spec is not None and eval_env.spec.kwargs["continuing_task"] is True


@pytest.mark.usefixtures("umaze_datasets")
def test_base_dataset_has_changing_goals() -> None:
    ds = minari.load_dataset("rr_gym/pointmaze-umaze-base-v0")
    assert ds.storage.metadata["rr_gym"]["kind"] == "base"
    assert ds.env_spec.kwargs["reset_target"] is True
    goals = np.concatenate([ep.observations["desired_goal"] for ep in ds.iterate_episodes()])
    assert len(np.unique(goals.round(6), axis=0)) > 3
    assert sum(ep.rewards.sum() for ep in ds.iterate_episodes()) > 0
    for ep in list(ds.iterate_episodes())[:-1]:
        assert ep.truncations[-1] and not ep.terminations.any()
        assert len(ep.rewards) == 300


def test_same_seed_same_dataset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = []
    for run, seed in enumerate([5, 5, 6]):
        monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / str(run)))
        result = generate_pointmaze("open", goal=3, steps=1500, seed=seed, progress=False)
        ds = minari.load_dataset(result.dataset_id)
        hashes.append(dataset_content_hash(ds))
        assert ds.storage.metadata["rr_gym"]["content_hash"] == hashes[-1]
    assert hashes[0] == hashes[1] != hashes[2]


def test_global_random_state_untouched() -> None:
    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    generate_pointmaze("umaze", goal=0, steps=300, seed=0, progress=False)
    assert np.random.random() == expected


def test_dense_reward_and_custom_cell(minari_root: Path) -> None:
    result = generate_pointmaze(
        "umaze",
        goal=(3, 3),
        steps=400,
        seed=1,
        reward_type="dense",
        dataset_id="rr_gym/custom-dense-v0",
        max_episode_steps=150,
        progress=False,
    )
    ds = minari.load_dataset(result.dataset_id)
    assert ds.storage.metadata["rr_gym"]["reward_type"] == "dense"
    assert ds.env_spec.max_episode_steps == 150
    rewards = np.concatenate([ep.rewards for ep in ds.iterate_episodes()])
    assert np.all((rewards > 0) & (rewards <= 1)) and len(np.unique(rewards)) > 10


def test_interrupted_generation_leaves_no_dataset(
    minari_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rr_gym.data.maze_controller import WaypointController

    calls = {"n": 0}
    original = WaypointController.act

    def flaky_act(self: WaypointController, observation: np.ndarray, goal: np.ndarray):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 700:  # after two write batches would have been possible
            raise KeyboardInterrupt
        return original(self, observation, goal)

    monkeypatch.setattr(WaypointController, "act", flaky_act)
    # write every episode at once, so the interruption hits a half-written dataset
    monkeypatch.setattr(
        pointmaze, "DatasetWriter", functools.partial(DatasetWriter, batch_episodes=1)
    )
    with pytest.raises(KeyboardInterrupt):
        generate_pointmaze("umaze", goal=2, steps=5000, seed=0, progress=False)
    monkeypatch.undo()
    assert not (minari_root / "rr_gym" / "pointmaze-umaze-goal2-v0").exists()
    leftovers = [p for p in minari_root.rglob("*") if ".rr_gym-tmp" in str(p)]
    assert leftovers == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maze": "spiral"}, r"unknown maze 'spiral'.*umaze"),
        ({"maze": "umaze", "goal": 7}, r"goal 7 does not exist.*0\.\.6"),
        ({"maze": "medium", "goal": 8}, r"goal 8 does not exist.*0\.\.7"),
        ({"maze": "umaze", "goal": (2, 1)}, r"\(2, 1\) is inside a wall"),
        ({"maze": "medium", "goal": (1, 2)}, "not one of the numbered goals"),
        ({"maze": "umaze", "steps": 0}, "steps=0"),
        ({"maze": "umaze", "reward_type": "shaped"}, "reward_type='shaped'"),
    ],
)
def test_bad_input(kwargs: dict, message: str, minari_root: Path) -> None:
    args = {"steps": 10, "seed": 0, "progress": False, **kwargs}
    maze = args.pop("maze")
    with pytest.raises(ConfigError, match=message):
        generate_pointmaze(maze, **args)
    assert not minari_root.exists() or not any(minari_root.rglob("metadata.json"))


def test_goal_table_is_exposed() -> None:
    assert set(GOAL_CELLS) == {"umaze", "medium", "large", "open"}
