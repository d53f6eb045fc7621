"""Finding and opening Minari datasets: by id, by local path, or as a MinariDataset.

Ids are looked up under the Minari root (``$MINARI_DATASETS_PATH`` or
``~/.minari/datasets``) first. Only when the id is not there, and downloads are allowed,
is a download tried; before that a short reachability probe of the remote host (a few
seconds at most) decides whether a download can work at all, so that an offline machine
fails fast instead of retrying for tens of seconds. ``HF_HUB_OFFLINE=1`` disables the
download. A failure raises :class:`~rr_gym.errors.DatasetNotFoundError` naming the id, the
folder searched and the rr_gym command that generates a local substitute.

Example:
    >>> import tempfile
    >>> from rr_gym.data.storage import minari_root_env
    >>> with minari_root_env(tempfile.mkdtemp()):
    ...     try:
    ...         load_dataset("rr_gym/pointmaze-umaze-goal1-v0", download=False)
    ...     except DatasetNotFoundError as err:
    ...         print("generate pointmaze --maze umaze --goal 1" in str(err))
    True
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rr_gym.data.ids import NAMESPACE, substitute_command
from rr_gym.data.storage import RR_GYM_METADATA_KEY, datasets_root
from rr_gym.errors import DataError, DatasetNotFoundError

__all__ = [
    "DatasetSource",
    "check_data_file",
    "dataset_metadata",
    "load_dataset",
    "reading_episodes",
    "remote_reachable",
    "unreadable_data_error",
]

logger = logging.getLogger(__name__)

DatasetSource = Any  # str | os.PathLike | minari.MinariDataset (minari is imported lazily)

_REMOTE_HOSTS = {"hf": "huggingface.co", "gcp": "storage.googleapis.com"}
_HDF5_FILE = "main_data.hdf5"  # Minari's name of an HDF5 dataset's episode file


def _is_minari_dataset(obj: Any) -> bool:
    from minari import MinariDataset

    return isinstance(obj, MinariDataset)


def _open_data_dir(data_dir: Path, label: str) -> Any:
    from minari import MinariDataset

    try:
        dataset = MinariDataset(data_dir)
    except (ValueError, KeyError, OSError) as exc:
        raise DataError(f"cannot open Minari dataset {label} at {data_dir}: {exc}") from exc
    check_data_file(dataset)
    return dataset


def _remedy(dataset_id: str | None) -> str:
    """What to do about a damaged dataset: regenerate it, or delete and fetch it again."""
    if dataset_id is None:
        return "delete the dataset folder and download or generate it again"
    command = substitute_command(dataset_id)
    if dataset_id.startswith(f"{NAMESPACE}/"):
        return (
            f"regenerate it with: {command} --overwrite, plus the options it was made with "
            "(--steps, --seed...: see the 'rr_gym' entry of its metadata.json), or delete the "
            "dataset folder and generate it again"
        )
    return (
        f"delete the dataset folder and download it again (minari.download_dataset"
        f"({dataset_id!r})), or generate a local substitute with: {command}"
    )


def unreadable_data_error(path: Path, dataset_id: str | None, cause: BaseException) -> DataError:
    """The :class:`~rr_gym.errors.DataError` for a dataset file that cannot be read.

    Args:
        path: the damaged file (e.g. ``.../data/main_data.hdf5``).
        dataset_id: the dataset's Minari id, when known (it picks the suggested command).
        cause: the low-level error (h5py's ``OSError``, a ``KeyError``...).

    Returns:
        An error naming the file, saying it is truncated or corrupt, quoting ``cause`` and
        saying how to replace the dataset.
    """
    what = f"of Minari dataset {dataset_id!r} " if dataset_id else ""
    return DataError(
        f"the data file {path} {what}is truncated or corrupt (expected a complete HDF5 "
        f"file; reading it failed with {type(cause).__name__}: {cause}); "
        f"{_remedy(dataset_id)}"
    )


def _hdf5_file(dataset: Any) -> Path | None:
    """The HDF5 file of an open dataset (None for other storage formats)."""
    storage = dataset.storage
    if str(storage.metadata.get("data_format", "hdf5")) != "hdf5":
        return None
    return Path(storage.data_path) / _HDF5_FILE


def check_data_file(dataset: Any) -> None:
    """Raise if the episode data file of an open Minari dataset is missing or damaged.

    Opening a ``MinariDataset`` only reads its ``metadata.json``; a truncated
    ``main_data.hdf5`` (an interrupted copy or download) would otherwise fail later, inside
    h5py, with a bare ``OSError``. This opens the file once, which checks its header and its
    recorded length against the real one (cheap, independent of the dataset's size).

    Args:
        dataset: a ``minari.MinariDataset``.

    Raises:
        DataError: the file is missing, truncated or not an HDF5 file (names the file and
            how to regenerate or re-download the dataset).
    """
    path = _hdf5_file(dataset)
    if path is None:
        return
    dataset_id = getattr(dataset, "id", None)
    if not path.is_file():
        raise DataError(
            f"Minari dataset {dataset_id!r} has no data file: {path} is missing (expected "
            f"the episodes there, next to metadata.json); {_remedy(dataset_id)}"
        )
    import h5py

    try:
        with h5py.File(path, "r"):
            pass
    except OSError as exc:
        raise unreadable_data_error(path, dataset_id, exc) from exc


@contextlib.contextmanager
def reading_episodes(dataset: Any) -> Iterator[None]:
    """Turn a low-level read failure inside the block into a :class:`DataError`.

    For damage that :func:`check_data_file` cannot see from the file's header (corrupt
    bytes in the middle), h5py fails while episodes are read: with this, such a failure
    names the file and the remedy.

    Args:
        dataset: the ``minari.MinariDataset`` read inside the block.

    Raises:
        DataError: h5py raised ``OSError`` (or a missing group ``KeyError``) in the block.

    Example::

        with reading_episodes(dataset):
            returns = [ep.rewards.sum() for ep in dataset.iterate_episodes()]
    """
    try:
        yield
    except (OSError, KeyError) as exc:
        path = _hdf5_file(dataset) or Path(dataset.storage.data_path)
        raise unreadable_data_error(path, getattr(dataset, "id", None), exc) from exc


def _local_dir(path: Path) -> Path | None:
    """The ``data`` folder of a dataset folder (or the folder itself if it is one)."""
    if (path / "data" / "metadata.json").is_file():
        return path / "data"
    if (path / "metadata.json").is_file():
        return path
    return None


def remote_reachable(host: str | None = None, port: int = 443, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the Minari remote opens within ``timeout`` seconds.

    Args:
        host: host to probe; default: the host of ``$MINARI_REMOTE`` (hf://farama-minari
            -> huggingface.co).
        port: TCP port.
        timeout: upper bound for name resolution plus connection, in seconds.
    """
    if host is None:
        remote = os.environ.get("MINARI_REMOTE", "hf://farama-minari")
        host = _REMOTE_HOSTS.get(remote.split("://", 1)[0], "huggingface.co")
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True, name="rr_gym-remote-probe")
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _not_found(dataset_id: str, why: str) -> DatasetNotFoundError:
    root = datasets_root()
    return DatasetNotFoundError(
        f"Minari dataset {dataset_id!r} was not found locally (searched {root / dataset_id}; "
        f"Minari root {root}, set by MINARI_DATASETS_PATH or ~/.minari/datasets) and "
        f"{why}. Generate a local substitute with: {substitute_command(dataset_id)}"
    )


def _download(dataset_id: str, timeout: float) -> None:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise _not_found(dataset_id, "downloads are disabled (HF_HUB_OFFLINE is set)")
    if importlib.util.find_spec("huggingface_hub") is None:
        raise _not_found(
            dataset_id,
            "it cannot be downloaded: Minari's download backend is not installed "
            '(pip install "minari[hf]")',
        )
    if not remote_reachable(timeout=timeout):
        raise _not_found(
            dataset_id, f"the Minari remote did not answer within {timeout:g} s (offline?)"
        )
    import minari

    logger.info("downloading %s", dataset_id)
    try:
        minari.download_dataset(dataset_id)
    except (ValueError, OSError, RuntimeError) as exc:
        raise _not_found(dataset_id, f"the download failed: {exc}") from exc


def load_dataset(source: DatasetSource, *, download: bool = True, timeout: float = 3.0) -> Any:
    """Open a Minari dataset.

    Args:
        source: a ``minari.MinariDataset`` (returned as is); a path to a dataset folder (the
            one holding ``data/``) or to its ``data`` folder; or a Minari id such as
            ``"D4RL/pointmaze/umaze-v2"``, ``"mujoco/hopper/medium-v0"`` or
            ``"rr_gym/pointmaze-umaze-goal1-v0"``.
        download: try a download when the id is not found locally.
        timeout: seconds allowed to find out whether the remote is reachable.

    Returns:
        A ``minari.MinariDataset``.

    Raises:
        DatasetNotFoundError: neither local nor downloadable (names the id, the folder
            searched and the rr_gym command that generates a substitute).
        DataError: the folder exists but is not a readable Minari dataset, or its data file
            is missing, truncated or corrupt (names the file and how to regenerate it).
    """
    if _is_minari_dataset(source):
        check_data_file(source)
        return source
    if not isinstance(source, str | os.PathLike):
        raise DataError(
            f"dataset source {source!r} of type {type(source).__name__}; expected a Minari id, "
            "a path or a minari.MinariDataset"
        )
    text = os.fspath(source)
    path = Path(text).expanduser()
    if path.is_dir():
        data_dir = _local_dir(path)
        if data_dir is None:
            raise DatasetNotFoundError(
                f"{path} is a folder but not a Minari dataset (no data/metadata.json in it)"
            )
        return _open_data_dir(data_dir, repr(text))
    from minari.dataset.minari_dataset import parse_dataset_id

    try:
        parse_dataset_id(text)
    except ValueError:
        raise DatasetNotFoundError(
            f"{text!r} is neither an existing dataset folder nor a Minari id "
            "('namespace/name-vN', e.g. 'D4RL/pointmaze/umaze-v2'); Minari root searched: "
            f"{datasets_root()}"
        ) from None
    local = datasets_root() / text
    data_dir = _local_dir(local)
    if data_dir is None:
        if not download:
            raise _not_found(text, "download=False")
        _download(text, timeout)
        data_dir = _local_dir(local)
        if data_dir is None:
            raise _not_found(text, "the download left no dataset there")
    return _open_data_dir(data_dir, repr(text))


def dataset_metadata(dataset: Any) -> dict[str, Any]:
    """JSON-friendly metadata of an open dataset (Minari's, spaces as strings).

    The rr_gym generator's entry, when present, is under ``"rr_gym"``.
    """
    from minari.serialization import serialize_space

    meta = dict(dataset.storage.metadata)
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if key in ("observation_space", "action_space"):
            try:
                out[key] = serialize_space(value)
            except (NotImplementedError, TypeError):
                out[key] = str(value)
        elif isinstance(value, set):
            out[key] = sorted(value)
        else:
            out[key] = value
    out.setdefault(RR_GYM_METADATA_KEY, None)
    return out
