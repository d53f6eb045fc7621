"""Dataset summaries, including datasets rr_gym did not generate."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from rr_gym.data.catalog import list_local_datasets, summarize
from rr_gym.data.storage import DatasetWriter, EpisodeArrays


@pytest.mark.usefixtures("umaze_datasets")
def test_summaries_of_generated_datasets() -> None:
    rows = list_local_datasets()
    assert [r.dataset_id for r in rows] == [
        "rr_gym/pointmaze-umaze-base-v0",
        "rr_gym/pointmaze-umaze-goal1-v0",
    ]
    for row in rows:  # Minari's size of the data folder, in MB rounded to 0.1
        on_disk = sum(f.stat().st_size for f in (row.path / "data").rglob("*") if f.is_file())
        assert row.size_mb > 0 and row.size_mb == pytest.approx(on_disk / 1e6, abs=0.06)
    goal = rows[1]
    assert goal.generator == "pointmaze" and goal.env_id == "PointMaze_UMaze-v3"
    assert goal.total_steps == 3000 and goal.total_episodes > 10
    assert goal.mean_return is not None and 0.9 < goal.mean_return <= 1.0
    assert goal.to_dict()["path"].endswith("pointmaze-umaze-goal1-v0")


def test_foreign_dataset_return_is_computed(minari_root: Path) -> None:
    space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    with DatasetWriter("other/thing-v1", observation_space=space, action_space=space) as w:
        w.add(
            EpisodeArrays(
                np.zeros((3, 2), np.float32),
                np.zeros((2, 2), np.float32),
                np.array([1.0, 2.0]),
                np.zeros(2, bool),
                np.ones(2, bool),
            )
        )
    # drop rr_gym's entry to look like a dataset from elsewhere
    import json

    meta_path = minari_root / "other" / "thing-v1" / "data" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    del meta["rr_gym"]
    meta_path.write_text(json.dumps(meta))
    summary = summarize("other/thing-v1")
    assert summary.generator is None and summary.mean_return == 3.0
    assert summarize("other/thing-v1", compute_return=False).mean_return is None
