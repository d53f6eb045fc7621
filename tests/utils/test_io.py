"""Atomic writes: a failure never leaves a partial file or directory at the target."""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

import pytest

from rr_gym.errors import TargetExistsError
from rr_gym.utils import io
from rr_gym.utils.io import (
    atomic_directory,
    atomic_write_bytes,
    atomic_write_text,
    remove_stale_temporaries,
)


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


def _ours(path: Path) -> bool:
    return (path / "MARK").is_file()


def _make_ours(target: Path, content: str = "old") -> None:
    target.mkdir()
    (target / "MARK").write_text("")
    (target / "old.txt").write_text(content)


def _dead_pid() -> int:
    """The pid of a process that has exited (reaped, so no such process exists)."""
    proc = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    proc.start()
    proc.join()
    return int(proc.pid)  # type: ignore[arg-type]


def _stale(folder: Path, name: str, kind: str, *, pid: int | None = None) -> Path:
    path = folder / f".{name}.{pid or _dead_pid()}@{io._HOST}.abc123.{kind}"
    path.mkdir()
    (path / "payload").write_text("x" * 100)
    return path


def test_atomic_directory_replaces_a_folder_it_may_replace(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    _make_ours(target)
    with atomic_directory(target, replaces=_ours) as tmp:
        (tmp / "MARK").write_text("")
        (tmp / "new.txt").write_text("new")
    assert _listing(target) == ["MARK", "new.txt"]
    assert _listing(tmp_path) == ["ckpt"]  # the moved-aside copy is deleted


def test_atomic_directory_writes_into_an_empty_folder(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    target.mkdir()
    with atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert _listing(target) == ["new.txt"]


@pytest.mark.parametrize("replaces", [None, _ours])
def test_atomic_directory_refuses_a_folder_that_is_not_ours(
    tmp_path: Path, replaces: object
) -> None:
    runs = tmp_path / "runs"
    (runs / "run1").mkdir(parents=True)
    (runs / "run1" / "result.csv").write_text("precious")
    with (
        pytest.raises(TargetExistsError, match=r"runs.*a folder with 1 entry \(run1\)"),
        atomic_directory(runs, replaces=replaces, what="an rr_gym checkpoint"),  # type: ignore[arg-type]
    ):
        pytest.fail("the block must not run")  # pragma: no cover
    assert (runs / "run1" / "result.csv").read_text() == "precious"
    assert _listing(tmp_path) == ["runs"]


def test_atomic_directory_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with (
        pytest.raises(TargetExistsError, match="a file of 4 bytes"),
        atomic_directory(target, replaces=_ours),
    ):
        pass  # pragma: no cover
    assert target.read_text() == "mine"
    assert _listing(tmp_path) == ["notes.txt"]


def test_atomic_directory_checks_again_before_the_rename(tmp_path: Path) -> None:
    """A user folder that appears while the directory is built is not replaced either."""
    target = tmp_path / "ckpt"
    with pytest.raises(TargetExistsError), atomic_directory(target, replaces=_ours) as tmp:
        (tmp / "new.txt").write_text("new")
        target.mkdir()
        (target / "user.txt").write_text("user")
    assert _listing(target) == ["user.txt"]
    assert _listing(tmp_path) == ["ckpt"]


def test_atomic_directory_failure_keeps_existing_directory(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    _make_ours(target)
    with pytest.raises(RuntimeError, match="boom"), atomic_directory(target, replaces=_ours) as tmp:
        (tmp / "new.txt").write_text("half")
        raise RuntimeError("boom")
    assert _listing(target) == ["MARK", "old.txt"]
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
    _make_ours(target)
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src).name.endswith(".tmp"):  # moving the new directory into place
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(io.os, "replace", replace)
    with (
        pytest.raises(OSError, match="simulated crash"),
        atomic_directory(target, replaces=_ours) as tmp,
    ):
        (tmp / "new.txt").write_text("new")
    monkeypatch.undo()
    assert _listing(target) == ["MARK", "old.txt"]
    assert _listing(tmp_path) == ["ckpt"]


def test_atomic_write_bytes_refuses_a_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(TargetExistsError, match="out"):
        atomic_write_bytes(tmp_path / "out", b"x")
    assert (tmp_path / "out").is_dir()


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead_tmp = _stale(tmp_path, "ckpt", "tmp")
    live_tmp = _stale(tmp_path, "ckpt", "tmp", pid=os.getpid())
    other_host = tmp_path / f".ckpt.{_dead_pid()}@elsewhere.abc.tmp"
    other_host.mkdir()
    (tmp_path / ".ckpt.lock").write_text("")  # not a temporary: never touched
    assert remove_stale_temporaries(tmp_path) == [dead_tmp]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [live_tmp.name, other_host.name, ".ckpt.lock"]
    )


def test_a_stale_old_folder_is_restored_when_its_target_is_missing(tmp_path: Path) -> None:
    """A writer killed between its two renames left the only copy aside: put it back."""
    old = _stale(tmp_path, "ckpt", "old")
    legacy = tmp_path / f".other.old-{_dead_pid()}"  # the name of earlier rr_gym versions
    legacy.mkdir()
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([old, legacy])
    assert (tmp_path / "ckpt" / "payload").is_file()
    assert (tmp_path / "other").is_dir()
    # with the target present, a stale old copy is deleted instead
    again = _stale(tmp_path, "ckpt", "old")
    assert remove_stale_temporaries(tmp_path, "ckpt") == [again]
    assert _listing(tmp_path) == ["ckpt", "other"]


def test_a_write_sweeps_the_leftovers_of_killed_writes(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    _stale(tmp_path, "ckpt", "tmp")
    (tmp_path / f".notes.txt.{_dead_pid()}@{io._HOST}.x9.tmp").write_text("half")
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("a")
    atomic_write_text(tmp_path / "notes.txt", "hello")
    assert _listing(tmp_path) == ["ckpt", "notes.txt"]


def _killed_writer(target: str) -> None:  # runs in a child process
    with atomic_directory(target) as tmp:
        (tmp / "partial").write_bytes(b"x" * 1000)
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_write_leaves_nothing_after_the_next_write(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    proc = multiprocessing.get_context("fork").Process(target=_killed_writer, args=(str(target),))
    proc.start()
    proc.join()
    assert proc.exitcode == -signal.SIGKILL
    assert not target.exists() and len(_listing(tmp_path)) == 1  # the leftover .tmp
    with atomic_directory(target) as tmp:
        (tmp / "done").write_text("")
    assert _listing(tmp_path) == ["ckpt"]
