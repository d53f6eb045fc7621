"""Atomic file and directory writes that never destroy what is not theirs to replace.

Every temporary that rr_gym creates next to a target is named after the target, the process
and the host: ``.NAME.PID@HOST.TOKEN.tmp`` (a file or folder being written) or
``.NAME.PID@HOST.TOKEN.old`` (a previous directory moved aside while its replacement is
renamed in). A temporary whose process no longer runs on this host is *stale*:
:func:`remove_stale_temporaries` deletes it, or, for an ``.old`` folder whose target is
missing (the writer died between the two renames), moves it back into place. Every atomic
write sweeps the stale temporaries of its own target before it renames, so a killed write
costs disk only until the next write to the same path.

Directory replacement runs under an exclusive lock on the parent folder (``flock``), so
concurrent writers of one path serialise: the last one wins and none fails or wedges.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from rr_gym.errors import TargetExistsError

__all__ = [
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "describe_path",
    "directory_lock",
    "remove_stale_temporaries",
    "replace_directory",
    "temporary_directory",
]

_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
# .NAME.PID@HOST.TOKEN.(tmp|old), and the .NAME.old-PID of rr_gym <= 0.x saves.
_TEMPORARY = re.compile(
    r"^\.(?P<name>.+)\.(?P<pid>\d+)@(?P<host>[A-Za-z0-9-]+)\.[A-Za-z0-9_]+\.(?P<kind>tmp|old)$"
)
_LEGACY_OLD = re.compile(r"^\.(?P<name>.+)\.old-(?P<pid>\d+)$")


def _prefix(name: str) -> str:
    """Prefix of this process's temporaries for the target ``name``."""
    return f".{name}.{os.getpid()}@{_HOST}."


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_stale_temporaries(folder: str | os.PathLike[str], name: str | None = None) -> list[Path]:
    """Clean up the temporaries that dead rr_gym processes on this host left in ``folder``.

    Only names of the pattern in the module docstring are touched, and only when their
    process is gone: a live writer's temporaries (in this or another process, or on
    another host sharing the folder) are left alone. A stale ``.old`` folder whose target
    is missing is moved back to the target (it is the last complete copy); otherwise it is
    deleted, as is every stale ``.tmp``.

    Args:
        folder: the folder to sweep (missing: nothing to do).
        name: only temporaries of this target name; every target when None.

    Returns:
        The temporaries deleted or restored (their former paths).

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> (folder / ".model.999999999@elsewhere.x1.tmp").mkdir()  # another host's
        >>> remove_stale_temporaries(folder)
        []
    """
    root = Path(folder)
    try:
        entries = sorted(os.listdir(root))
    except (FileNotFoundError, NotADirectoryError):
        return []
    handled: list[Path] = []
    for entry in entries:
        match = _TEMPORARY.match(entry)
        if match is not None:
            kind, host = match["kind"], match["host"]
        else:
            match = _LEGACY_OLD.match(entry)
            if match is None:
                continue
            kind, host = "old", _HOST
        if (name is not None and match["name"] != name) or host != _HOST:
            continue
        if _alive(int(match["pid"])):
            continue
        path, target = root / entry, root / match["name"]
        if kind == "old" and not target.exists() and not target.is_symlink():
            os.replace(path, target)
        else:
            _remove(path)
        handled.append(path)
    return handled


@contextlib.contextmanager
def directory_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` itself (no lock file is left behind)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def temporary_directory(parent: str | os.PathLike[str], name: str) -> Path:
    """Create an empty temporary folder for the target ``parent/name`` (swept when stale)."""
    return Path(tempfile.mkdtemp(prefix=_prefix(name), suffix=".tmp", dir=parent))


def describe_path(path: Path) -> str:
    """What is at ``path``, in a few words, for error messages."""
    if path.is_symlink():
        return f"a symbolic link to {os.readlink(path)}"
    if path.is_dir():
        names = sorted(os.listdir(path))
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return f"a folder with {len(names)} {'entry' if len(names) == 1 else 'entries'} ({shown})"
    if path.is_file():
        return f"a file of {path.stat().st_size} bytes"
    return "something that is neither a file nor a folder"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    Raises:
        TargetExistsError: ``path`` is a folder.
    """
    target = Path(path)
    if target.is_dir() and not target.is_symlink():
        raise TargetExistsError(
            f"cannot write the file {target}: it is {describe_path(target)}; choose another "
            "path or move the folder away"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent, target.name)
    fd, tmp = tempfile.mkstemp(prefix=_prefix(target.name), suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _check_replaceable(target: Path, replaces: Callable[[Path], bool] | None, what: str) -> None:
    """Refuse ``target`` unless it is absent, an empty folder, or a folder ``replaces`` accepts."""
    if not target.exists() and not target.is_symlink():
        return
    is_folder = target.is_dir() and not target.is_symlink()
    if is_folder and (not any(target.iterdir()) or (replaces is not None and replaces(target))):
        return
    free = target / "model" if is_folder else target.with_name(f"{target.name}-model")
    raise TargetExistsError(
        f"refusing to write {what} at {target}: {describe_path(target)} is there, and only "
        f"{what} (or an empty folder) is ever replaced. Choose a path that does not exist "
        f"(e.g. {free}) or move what is there away"
    )


@contextlib.contextmanager
def atomic_directory(
    path: str | os.PathLike[str],
    *,
    replaces: Callable[[Path], bool] | None = None,
    what: str = "a folder written by rr_gym",
) -> Iterator[Path]:
    """Build a directory under a temporary name and move it to ``path`` only on success.

    Yields the temporary directory to write into. If the block raises, the temporary
    directory is removed and ``path`` is untouched. ``path`` may be absent or an empty
    folder; an existing non-empty folder is replaced only when ``replaces(path)`` says it is
    one of ours (e.g. an earlier checkpoint), after the new directory is complete. Anything
    else at ``path`` (a user's folder, a file) is refused before and after the block, so it
    is never moved, renamed or deleted. The swap (:func:`replace_directory`) runs under
    :func:`directory_lock` on the parent, so concurrent writers of one path serialise.

    Args:
        path: the target folder.
        replaces: says whether an existing non-empty folder at ``path`` may be replaced;
            None: never.
        what: what this writes, for the error message (e.g. "an rr_gym checkpoint").

    Raises:
        TargetExistsError: something that is not ours to replace is at ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with directory_lock(target.parent):  # not during another writer's swap
        _check_replaceable(target, replaces, what)
    tmp = temporary_directory(target.parent, target.name)
    try:
        yield tmp
        replace_directory(tmp, target, replaces=replaces, what=what)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_directory(
    built: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    replaces: Callable[[Path], bool] | None = None,
    what: str = "a folder written by rr_gym",
) -> None:
    """Rename the complete folder ``built`` to ``path``, replacing only what is ours there.

    The swap of :func:`atomic_directory`: under :func:`directory_lock` on the parent, stale
    temporaries of ``path`` are swept, ``path`` is checked again (another writer may have
    won), an existing folder is moved aside, ``built`` is renamed in and the old folder is
    deleted. ``built`` must be on the same file system as ``path`` (e.g. a
    :func:`temporary_directory` of it).

    Raises:
        TargetExistsError: something that is not ours to replace is at ``path``.
    """
    target = Path(path)
    old: Path | None = None
    with directory_lock(target.parent):
        remove_stale_temporaries(target.parent, target.name)
        _check_replaceable(target, replaces, what)
        if target.exists():
            old = target.with_name(f"{_prefix(target.name)}{secrets.token_hex(4)}.old")
            os.replace(target, old)
        try:
            os.replace(built, target)
        except BaseException:
            if old is not None:
                os.replace(old, target)  # put the previous directory back
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
