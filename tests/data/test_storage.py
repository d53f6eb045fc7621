"""DatasetWriter: real Minari datasets, atomic moves, overwrite rules, content hashes."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import minari
import numpy as np
import pytest

from rr_gym.data.storage import (
    DatasetWriter,
    EpisodeArrays,
    dataset_content_hash,
    datasets_root,
    minari_root_env,
)
from rr_gym.errors import ConfigError, DataError, TargetExistsError

OBS = gym.spaces.Box(-10.0, 10.0, (3,), np.float64)
ACT = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


def _episode(n: int, value: float = 0.0) -> EpisodeArrays:
    return EpisodeArrays(
        observations=np.full((n + 1, 3), value),
        actions=np.full((n, 2), value, np.float32),
        rewards=np.arange(n, dtype=np.float64),
        terminations=np.eye(1, n, n - 1, bool)[0],
        truncations=np.zeros(n, bool),
    )


def _write(dataset_id: str, episodes: list[EpisodeArrays], **kw: object) -> DatasetWriter:
    with DatasetWriter(dataset_id, observation_space=OBS, action_space=ACT, **kw) as w:
        for ep in episodes:
            w.add(ep)
    return w


def test_writes_a_loadable_minari_dataset(minari_root: Path) -> None:
    w = _write(
        "rr_gym/test-v0", [_episode(5), _episode(7, 1.0)], metadata={"k": [1, 2]}, batch_episodes=1
    )
    assert w.result is not None
    assert w.result.total_steps == 12 and w.result.total_episodes == 2
    assert w.result.mean_return == pytest.approx((10 + 21) / 2)
    assert datasets_root() == minari_root
    ds = minari.load_dataset("rr_gym/test-v0")
    assert ds.total_steps == 12 and ds.total_episodes == 2
    extra = ds.storage.metadata["rr_gym"]
    assert extra["k"] == [1, 2] and extra["content_hash"] == dataset_content_hash(ds)
    episode = ds[1]
    np.testing.assert_array_equal(episode.observations, np.ones((8, 3)))
    assert "rr_gym/test-v0" in minari.list_local_datasets()
    # nothing temporary is left behind
    assert not [p for p in minari_root.iterdir() if p.name.startswith(".")]


def test_refuses_to_overwrite_unless_asked(minari_root: Path) -> None:
    _write("rr_gym/test-v0", [_episode(3)])
    with pytest.raises(ConfigError, match=r"already exists.*overwrite"):
        _write("rr_gym/test-v0", [_episode(4)])
    w = _write("rr_gym/test-v0", [_episode(4)], overwrite=True)
    assert w.result is not None and minari.load_dataset("rr_gym/test-v0").total_steps == 4


def test_interrupted_write_leaves_nothing(minari_root: Path) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        DatasetWriter(
            "rr_gym/test-v0", observation_space=OBS, action_space=ACT, batch_episodes=1
        ) as w,
    ):
        w.add(_episode(3))
        w.add(_episode(3))
        raise KeyboardInterrupt
    assert not (minari_root / "rr_gym" / "test-v0").exists()
    assert not [p for p in minari_root.iterdir() if p.name.startswith(".")]


def test_interrupted_overwrite_keeps_the_old_dataset(minari_root: Path) -> None:
    _write("rr_gym/test-v0", [_episode(3)])
    with (
        pytest.raises(RuntimeError),
        DatasetWriter(
            "rr_gym/test-v0", observation_space=OBS, action_space=ACT, overwrite=True
        ) as w,
    ):
        w.add(_episode(9))
        raise RuntimeError("boom")
    assert minari.load_dataset("rr_gym/test-v0").total_steps == 3


def _killed_generation(dataset_id: str, root: str) -> None:  # runs in a child process
    import os
    import signal

    with (
        minari_root_env(root),
        DatasetWriter(
            dataset_id, observation_space=OBS, action_space=ACT, overwrite=True, batch_episodes=1
        ) as w,
    ):
        w.add(_episode(3))
        w.add(_episode(3))
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_overwrite_leaves_nothing_after_the_next_generation(minari_root: Path) -> None:
    import multiprocessing

    _write("rr_gym/test-v0", [_episode(3)])
    ctx = multiprocessing.get_context("fork")
    proc = ctx.Process(target=_killed_generation, args=("rr_gym/test-v0", str(minari_root)))
    proc.start()
    proc.join()
    assert proc.exitcode is not None and proc.exitcode < 0
    assert [p for p in minari_root.iterdir() if p.name.startswith(".")]  # its temporary root
    assert minari.load_dataset("rr_gym/test-v0").total_steps == 3  # the old one is intact
    _write("rr_gym/other-v0", [_episode(2)])
    assert not [p for p in minari_root.iterdir() if p.name.startswith(".")]


def test_overwrite_refuses_a_folder_that_is_not_a_dataset(minari_root: Path) -> None:
    folder = minari_root / "rr_gym" / "test-v0"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(TargetExistsError, match="only a Minari dataset"):
        _write("rr_gym/test-v0", [_episode(3)], overwrite=True)
    assert (folder / "notes.txt").read_text() == "mine"


def test_empty_dataset_is_an_error(minari_root: Path) -> None:
    with pytest.raises(DataError, match="no episode"):
        _write("rr_gym/test-v0", [])
    assert not (minari_root / "rr_gym" / "test-v0").exists()


def test_bad_ids_and_missing_spaces() -> None:
    with pytest.raises(ConfigError, match="malformed"):
        DatasetWriter("no version here!", observation_space=OBS, action_space=ACT)
    with pytest.raises(ConfigError, match="observation_space"):
        DatasetWriter("rr_gym/x-v0")


def test_content_hash_sees_any_change(tmp_path: Path) -> None:
    hashes = []
    for i, value in enumerate([0.0, 0.0, 1e-9]):
        with minari_root_env(tmp_path / str(i)):
            _write("rr_gym/test-v0", [_episode(4, value)])
            hashes.append(dataset_content_hash(minari.load_dataset("rr_gym/test-v0")))
    assert hashes[0] == hashes[1] != hashes[2]


def test_minari_root_env_restores(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MINARI_DATASETS_PATH")
    with minari_root_env(tmp_path):
        assert datasets_root() == tmp_path
    assert datasets_root().parts[-2:] == (".minari", "datasets")
