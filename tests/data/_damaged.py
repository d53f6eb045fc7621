"""Damaged copies of small generated datasets (truncated or corrupt ``main_data.hdf5``)."""

from __future__ import annotations

import shutil
from pathlib import Path

GOAL1 = "rr_gym/pointmaze-umaze-goal1-v0"


def copy_dataset(src_root: Path, dst_root: Path, dataset_id: str = GOAL1) -> Path:
    """Copy ``dataset_id`` from one Minari root to another; returns its ``main_data.hdf5``."""
    shutil.copytree(src_root / dataset_id, dst_root / dataset_id)
    return dst_root / dataset_id / "data" / "main_data.hdf5"


def truncate(path: Path) -> None:
    """Cut ``path`` to half its size (an interrupted copy or download)."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def corrupt_middle(path: Path) -> None:
    """Overwrite bytes after the header (the file keeps its size and its superblock)."""
    data = bytearray(path.read_bytes())
    data[2000:6000] = b"\xff" * 4000
    path.write_bytes(bytes(data))
