"""Opening datasets by id, path or object; failing fast and helpfully when absent."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import minari
import pytest

from rr_gym.data.catalog import list_local_datasets, summarize
from rr_gym.data.loading import (
    dataset_metadata,
    load_dataset,
    reading_episodes,
    remote_reachable,
)
from rr_gym.errors import DataError, DatasetNotFoundError
from tests.data._damaged import GOAL1, copy_dataset, corrupt_middle, truncate


@pytest.mark.usefixtures("umaze_datasets")
def test_load_by_id_path_and_object(umaze_datasets: Path) -> None:
    by_id = load_dataset("rr_gym/pointmaze-umaze-goal1-v0")
    assert by_id.id == "rr_gym/pointmaze-umaze-goal1-v0"
    by_path = load_dataset(umaze_datasets / "rr_gym" / "pointmaze-umaze-goal1-v0")
    by_data_path = load_dataset(
        str(umaze_datasets / "rr_gym" / "pointmaze-umaze-goal1-v0" / "data")
    )
    assert by_path.total_steps == by_data_path.total_steps == by_id.total_steps
    assert load_dataset(by_id) is by_id
    meta = dataset_metadata(by_id)
    assert meta["rr_gym"]["goal"] == 1 and isinstance(meta["observation_space"], str)


@pytest.mark.parametrize(
    ("dataset_id", "command"),
    [
        ("D4RL/pointmaze/umaze-v2", "generate pointmaze --maze umaze --base"),
        ("D4RL/pointmaze/large-dense-v2", "--maze large --base --reward dense"),
        ("mujoco/hopper/medium-v0", "generate locomotion --env hopper --levels medium"),
        ("rr_gym/pointmaze-medium-goal3-v0", "generate pointmaze --maze medium --goal 3"),
        ("rr_gym/walker2d-medium-replay-v0", "--env walker2d --levels medium-replay"),
        ("someone/else-v1", "generate pointmaze --maze <umaze"),
    ],
)
def test_missing_id_fails_fast_with_a_helpful_message(
    dataset_id: str, command: str, minari_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real offline path of this machine: whatever makes a download impossible here
    # (no download backend, HF_HUB_OFFLINE, no network) must be detected within seconds.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    t0 = time.perf_counter()
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset(dataset_id, timeout=2.0)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5.0, f"took {elapsed:.1f} s to fail"
    msg = str(err.value)
    assert repr(dataset_id) in msg
    assert str(minari_root / dataset_id) in msg
    assert "MINARI_DATASETS_PATH" in msg
    assert command in msg


def test_offline_env_var_skips_the_download(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(DatasetNotFoundError, match="HF_HUB_OFFLINE"):
        load_dataset("D4RL/pointmaze/umaze-v2")
    assert time.perf_counter() - t0 < 1.0


def test_unreachable_remote_fails_within_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a download backend present but no route to the remote, the probe fails fast."""
    import rr_gym.data.loading as loading

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(loading.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setattr(loading, "remote_reachable", lambda timeout: False)
    with pytest.raises(DatasetNotFoundError, match=r"did not answer within 2 s"):
        load_dataset("mujoco/hopper/expert-v0", timeout=2.0)


def test_remote_probe_on_loopback() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        assert remote_reachable("127.0.0.1", port, timeout=2.0)
    t0 = time.perf_counter()
    assert not remote_reachable("127.0.0.1", port, timeout=2.0)  # closed now: refused
    assert time.perf_counter() - t0 < 2.5


def test_no_download_when_disabled(minari_root: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="download=False"):
        load_dataset("rr_gym/hopper-expert-v0", download=False)


def test_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="not a Minari dataset"):
        load_dataset(tmp_path / "empty")
    with pytest.raises(DatasetNotFoundError, match="neither an existing dataset folder"):
        load_dataset(str(tmp_path / "missing" / "thing"))
    with pytest.raises(Exception, match="expected a Minari id"):
        load_dataset(42)


def test_loading_never_creates_datasets(minari_root: Path) -> None:
    with pytest.raises(DatasetNotFoundError):
        load_dataset("rr_gym/pointmaze-umaze-base-v0", download=False)
    assert minari.list_local_datasets() == {}


def _assert_names_damage(err: pytest.ExceptionInfo[DataError], path: Path) -> None:
    msg = str(err.value)
    assert str(path) in msg and "truncated or corrupt" in msg
    assert "generate pointmaze --maze umaze --goal 1 --overwrite" in msg
    assert "delete the dataset folder" in msg


def test_truncated_data_file_is_a_data_error_everywhere(
    umaze_root: Path, minari_root: Path
) -> None:
    path = copy_dataset(umaze_root, minari_root)
    opened = minari.load_dataset(GOAL1)  # before the damage: Minari only reads the metadata
    truncate(path)
    entry_points = {
        "id": lambda: load_dataset(GOAL1, download=False),
        "folder": lambda: load_dataset(minari_root / GOAL1),
        "data folder": lambda: load_dataset(str(minari_root / GOAL1 / "data")),
        "object": lambda: load_dataset(opened),
        "summarize": lambda: summarize(GOAL1),
        "list": list_local_datasets,
    }
    for name, call in entry_points.items():
        with pytest.raises(DataError) as err:
            call()
        _assert_names_damage(err, path)
        assert isinstance(err.value.__cause__, OSError), name


def test_missing_data_file_is_named(umaze_root: Path, minari_root: Path) -> None:
    path = copy_dataset(umaze_root, minari_root)
    opened = load_dataset(GOAL1, download=False)
    path.unlink()
    with pytest.raises(DataError, match=r"main_data\.hdf5 is missing.*--overwrite"):
        load_dataset(opened)
    with pytest.raises(DataError, match=r"No data found"):  # Minari's own check, by id
        load_dataset(GOAL1, download=False)


def test_damage_inside_the_file_is_named_when_episodes_are_read(
    umaze_root: Path, minari_root: Path
) -> None:
    path = copy_dataset(umaze_root, minari_root)
    corrupt_middle(path)
    dataset = load_dataset(GOAL1, download=False)  # the header is intact
    with pytest.raises(DataError) as err, reading_episodes(dataset):
        for _ in dataset.iterate_episodes():
            pass
    _assert_names_damage(err, path)


def test_damaged_foreign_dataset_suggests_a_download(umaze_root: Path, minari_root: Path) -> None:
    import shutil

    shutil.copytree(umaze_root / GOAL1, minari_root / "D4RL" / "pointmaze" / "umaze-v2")
    meta_path = minari_root / "D4RL" / "pointmaze" / "umaze-v2" / "data" / "metadata.json"
    meta_path.write_text(meta_path.read_text().replace(GOAL1, "D4RL/pointmaze/umaze-v2"))
    truncate(meta_path.with_name("main_data.hdf5"))
    with pytest.raises(DataError, match=r"download it again.*generate pointmaze --maze umaze"):
        load_dataset("D4RL/pointmaze/umaze-v2", download=False)
