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

import importlib.util
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from rr_gym.data.ids import substitute_command
from rr_gym.data.storage import RR_GYM_METADATA_KEY, datasets_root
from rr_gym.errors import DataError, DatasetNotFoundError

__all__ = [
    "DatasetSource",
    "dataset_metadata",
    "load_dataset",
    "remote_reachable",
]

logger = logging.getLogger(__name__)

DatasetSource = Any  # str | os.PathLike | minari.MinariDataset (minari is imported lazily)

_REMOTE_HOSTS = {"hf": "huggingface.co", "gcp": "storage.googleapis.com"}


def _is_minari_dataset(obj: Any) -> bool:
    from minari import MinariDataset

    return isinstance(obj, MinariDataset)


def _open_data_dir(data_dir: Path, label: str) -> Any:
    from minari import MinariDataset

    try:
        return MinariDataset(data_dir)
    except (ValueError, KeyError, OSError) as exc:
        raise DataError(f"cannot open Minari dataset {label} at {data_dir}: {exc}") from exc


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
        DataError: the folder exists but is not a readable Minari dataset.
    """
    if _is_minari_dataset(source):
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
