"""Windows: shapes, stride, tail handling, rewards, normalisers, loading from Minari."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rr_gym.data.pointmaze import POINTMAZE_LAYOUT
from rr_gym.data.windows import (
    WindowDataset,
    make_transitions,
    make_windows,
    windows_from_arrays,
)
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer

from .conftest import SMALL_STEPS

FLAT1 = TransitionLayout.flat(1)


def _episodes(*lengths: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xs, rs = [], []
    start = 0
    for n in lengths:
        xs.append(np.arange(start, start + n, dtype=np.float32)[:, None])
        rs.append(np.arange(start, start + n, dtype=np.float32) * 10)
        start += 100
    return xs, rs


def test_drop_keeps_only_full_windows() -> None:
    xs, rs = _episodes(5, 2, 7)
    data = windows_from_arrays(xs, rs, horizon=3, layout=FLAT1, stride=2)
    # episode 0 (5 steps): starts 0, 2; episode 1 (2 steps): none; episode 2 (7): 0, 2, 4
    assert data.windows.shape == (5, 3, 1)
    np.testing.assert_array_equal(data.episode_ids, [0, 0, 2, 2, 2])
    np.testing.assert_array_equal(data.starts, [0, 2, 0, 2, 4])
    np.testing.assert_array_equal(data.windows[1, :, 0], [2, 3, 4])
    np.testing.assert_array_equal(data.rewards[4], [2040, 2050, 2060])
    assert data.valid.all()
    assert data.metadata["tail"] == "drop" and data.metadata["stride"] == 2


def test_pad_covers_every_step_and_marks_padding() -> None:
    xs, rs = _episodes(5, 2)
    data = windows_from_arrays(xs, rs, horizon=3, layout=FLAT1, stride=2, tail="pad")
    # episode 0 padded to 5 (3 + 1 stride): starts 0, 2; episode 1 padded to 3: start 0
    assert len(data) == 3
    np.testing.assert_array_equal(data.windows[2, :, 0], [100, 101, 101])
    np.testing.assert_array_equal(data.valid[2], [True, True, False])
    np.testing.assert_array_equal(data.rewards[2], [1000, 1010, 0])
    xs, rs = _episodes(6)
    data = windows_from_arrays(xs, rs, horizon=3, layout=FLAT1, stride=2, tail="pad")
    np.testing.assert_array_equal(data.starts, [0, 2, 4])
    np.testing.assert_array_equal(data.windows[-1, :, 0], [4, 5, 5])
    covered = {
        int(s + k) for s, v in zip(data.starts, data.valid, strict=True) for k in np.flatnonzero(v)
    }
    assert covered == set(range(6))


def test_episodes_shorter_than_the_horizon() -> None:
    xs, rs = _episodes(3, 4)
    with pytest.raises(DataError, match=r"horizon 8.*longest 4.*tail='pad'"):
        windows_from_arrays(xs, rs, horizon=8, layout=FLAT1)
    assert len(windows_from_arrays(xs, rs, horizon=8, layout=FLAT1, tail="pad")) == 2


def test_bad_arguments() -> None:
    xs, rs = _episodes(4)
    with pytest.raises(ConfigError, match="horizon=0"):
        windows_from_arrays(xs, rs, horizon=0, layout=FLAT1)
    with pytest.raises(ConfigError, match="stride=-1"):
        windows_from_arrays(xs, rs, horizon=2, layout=FLAT1, stride=-1)
    with pytest.raises(ConfigError, match="tail='wrap'"):
        windows_from_arrays(xs, rs, horizon=2, layout=FLAT1, tail="wrap")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no episode"):
        windows_from_arrays([], [], horizon=2, layout=FLAT1)
    with pytest.raises(DataError, match="non-finite"):
        windows_from_arrays(
            [np.array([[np.nan], [1.0]], np.float32)], [np.zeros(2)], horizon=2, layout=FLAT1
        )
    with pytest.raises(DataError, match="expected"):
        windows_from_arrays(xs, rs, horizon=2, layout=TransitionLayout.flat(3))


def test_window_dataset_validates_shapes() -> None:
    with pytest.raises(DataError, match=r"\(N, H, D\)"):
        WindowDataset(np.zeros((2, 3)), np.zeros((2, 3)), FLAT1, np.zeros(2))
    with pytest.raises(DataError, match="rewards"):
        WindowDataset(np.zeros((2, 3, 1)), np.zeros((2, 4)), FLAT1, np.zeros(2))
    with pytest.raises(DataError, match="layout"):
        WindowDataset(np.zeros((2, 3, 2)), np.zeros((2, 3)), FLAT1, np.zeros(2))


def test_normalizer_ignores_padding() -> None:
    xs, rs = _episodes(2)
    data = windows_from_arrays(xs, rs, horizon=4, layout=FLAT1, tail="pad")
    norm = data.fit_normalizer("minmax")
    assert isinstance(norm, Normalizer)
    np.testing.assert_allclose(norm.normalize(np.array([[0.0], [1.0]])), [[-1.0], [1.0]])
    gauss = data.fit_normalizer()
    assert gauss.kind == "gaussian" and gauss.shift[0] == pytest.approx(0.5)


@pytest.mark.usefixtures("umaze_datasets")
def test_make_windows_on_generated_pointmaze() -> None:
    data = make_windows("rr_gym/pointmaze-umaze-base-v0", horizon=32, stride=4, progress=False)
    assert data.layout == POINTMAZE_LAYOUT
    n = len(data)
    assert data.windows.shape == (n, 32, 6) and data.windows.dtype == np.float32
    assert data.rewards.shape == (n, 32) and data.rewards.dtype == np.float32
    assert data.episode_ids.shape == (n,)
    assert data.horizon == 32 and data.transition_dim == 6
    assert data.metadata["dataset_id"] == "rr_gym/pointmaze-umaze-base-v0"
    assert data.metadata["env_id"] == "PointMaze_UMaze-v3"
    assert data.metadata["rr_gym"]["kind"] == "base"
    assert (
        "Dict" in data.metadata["observation_space"]
        or "observation" in data.metadata["observation_space"]
    )
    # consecutive steps of a window: position advances by velocity * dt (0.01 s, 1 substep)
    pos, vel = data.field("observation")[..., :2], data.field("observation")[..., 2:]
    np.testing.assert_allclose(pos[:, 1:] - pos[:, :-1], vel[:, 1:] * 0.01, atol=2e-3)
    assert np.all(np.abs(data.field("action")) <= 1.0)
    sub = data.subset(data.episode_ids == data.episode_ids[0])
    assert len(sub) > 0 and np.all(sub.episode_ids == data.episode_ids[0])


@pytest.mark.usefixtures("umaze_datasets")
def test_transitions_are_horizon_one_and_match_the_episodes() -> None:
    import minari

    flat = make_transitions("rr_gym/pointmaze-umaze-goal1-v0", progress=False)
    assert flat.windows.shape == (SMALL_STEPS, 1, 6)
    ds = minari.load_dataset("rr_gym/pointmaze-umaze-goal1-v0")
    ep = ds[0]
    n = len(ep.rewards)
    np.testing.assert_allclose(
        flat.windows[:n, 0, :4], ep.observations["observation"][:n], rtol=1e-6
    )
    np.testing.assert_allclose(flat.windows[:n, 0, 4:], ep.actions)
    np.testing.assert_allclose(flat.rewards[:n, 0], ep.rewards)
    assert flat.rewards.sum() == pytest.approx(sum(e.rewards.sum() for e in ds))


def test_make_windows_accepts_paths_and_objects(umaze_datasets: Path) -> None:
    import minari

    path = umaze_datasets / "rr_gym" / "pointmaze-umaze-goal1-v0"
    a = make_windows(path, horizon=4, stride=8, progress=False)
    b = make_windows(str(path / "data"), horizon=4, stride=8, progress=False)
    c = make_windows(
        minari.load_dataset("rr_gym/pointmaze-umaze-goal1-v0"), horizon=4, stride=8, progress=False
    )
    np.testing.assert_array_equal(a.windows, b.windows)
    np.testing.assert_array_equal(a.windows, c.windows)


@pytest.mark.usefixtures("umaze_datasets")
def test_layout_the_data_lacks() -> None:
    layout = TransitionLayout.from_sizes(observation=4, torque=2, observation_key="observation")
    with pytest.raises(DataError, match=r"'torque'.*valid field names"):
        make_windows("rr_gym/pointmaze-umaze-base-v0", horizon=4, layout=layout, progress=False)


@pytest.mark.usefixtures("umaze_datasets")
def test_expert_episodes_shorter_than_a_long_horizon() -> None:
    with pytest.raises(DataError, match="horizon 5000"):
        make_windows("rr_gym/pointmaze-umaze-goal1-v0", horizon=5000, progress=False)
    padded = make_windows(
        "rr_gym/pointmaze-umaze-goal1-v0", horizon=400, stride=400, tail="pad", progress=False
    )
    assert padded.windows.shape[1] == 400 and not padded.valid.all()


def test_empty_minari_dataset(minari_root: Path) -> None:
    import gymnasium as gym
    import minari

    space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    with pytest.warns(UserWarning):  # Minari: no env given
        minari.create_dataset_from_buffers(
            "rr_gym/empty-v0",
            [],
            observation_space=space,
            action_space=space,
            algorithm_name="none",
            author="test",
            description="empty",
            code_permalink="none",
            author_email="none",
        )
    with pytest.raises(DataError, match=r"'rr_gym/empty-v0' has no episode"):
        make_windows("rr_gym/empty-v0", horizon=2, progress=False)
