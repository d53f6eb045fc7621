"""Atomic writes: a failure never leaves a partial file or directory at the target."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rr_gym.utils import io
from rr_gym.utils.io import atomic_directory, atomic_write_bytes, atomic_write_text


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_write_bytes_creates_parents_and_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.bin"
    atomic_write_bytes(target, b"first")
    assert target.read_bytes() == b"first"
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    assert _listing(target.parent) == ["file.bin"]


def test_atomic_write_text_is_utf8(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    atomic_write_text(target, "héllo ρ")
    assert target.read_bytes() == "héllo ρ".encode()


def test_failed_write_leaves_target_untouched_and_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"original")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"original"
    assert _listing(tmp_path) == ["file.bin"]


def test_failed_rename_leaves_target_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "file.bin"
    target.write_bytes(b"original")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(io.os, "replace", broken_replace)
    with pytest.raises(OSError, match="simulated crash"):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"original"
    assert _listing(tmp_path) == ["file.bin"]


def test_atomic_directory_moves_complete_directory_into_place(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    with atomic_directory(target) as tmp:
        assert tmp != target and tmp.parent == tmp_path
        (tmp / "a.txt").write_text("a")
        assert not target.exists()
    assert _listing(target) == ["a.txt"]
    assert _listing(tmp_path) == ["ckpt"]


def test_atomic_directory_replaces_existing_directory(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert _listing(target) == ["new.txt"]
    assert _listing(tmp_path) == ["ckpt"]  # the moved-aside copy is deleted


def test_atomic_directory_failure_keeps_existing_directory(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("half")
        raise RuntimeError("boom")
    assert _listing(target) == ["old.txt"]
    assert (target / "old.txt").read_text() == "old"
    assert _listing(tmp_path) == ["ckpt"]


def test_atomic_directory_failure_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    with pytest.raises(KeyboardInterrupt), atomic_directory(target) as tmp:
        (tmp / "x").write_text("x")
        raise KeyboardInterrupt
    assert not target.exists()
    assert _listing(tmp_path) == []


def test_atomic_directory_failed_final_rename_restores_existing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "old.txt").write_text("old")
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src).name.endswith(".tmp"):  # moving the new directory into place
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(io.os, "replace", replace)
    with pytest.raises(OSError, match="simulated crash"), atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("new")
    monkeypatch.undo()
    assert _listing(target) == ["old.txt"]
    assert _listing(tmp_path) == ["ckpt"]


def test_atomic_directory_refuses_to_overwrite_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()
    with pytest.raises(FileExistsError, match="ckpt"), atomic_directory(target, overwrite=False):
        pass  # pragma: no cover
    assert _listing(tmp_path) == ["ckpt"]
