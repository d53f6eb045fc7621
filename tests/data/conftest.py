"""Shared fixtures: every data test runs against a temporary Minari root, never ~/.minari."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rr_gym.data.pointmaze import generate_pointmaze
from rr_gym.data.storage import minari_root_env

SMALL_STEPS = 3000


@pytest.fixture(autouse=True)
def minari_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty Minari root for each test (MINARI_DATASETS_PATH)."""
    root = tmp_path / "minari"
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


@pytest.fixture(scope="session")
def umaze_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A read-only root holding small umaze base and goal-1 datasets (built once)."""
    root = tmp_path_factory.mktemp("umaze_root")
    with minari_root_env(root):
        generate_pointmaze("umaze", goal=1, steps=SMALL_STEPS, seed=0, progress=False)
        generate_pointmaze("umaze", steps=SMALL_STEPS, seed=0, progress=False)
    yield root


@pytest.fixture
def umaze_datasets(umaze_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MINARI_DATASETS_PATH at the shared umaze root."""
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(umaze_root))
    return umaze_root
