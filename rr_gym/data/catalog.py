"""Summaries of local Minari datasets (what ``python -m rr_gym.data list`` and ``info`` show).

Example:
    >>> import tempfile
    >>> from rr_gym.data.storage import minari_root_env
    >>> with minari_root_env(tempfile.mkdtemp()):
    ...     list_local_datasets()
    []
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rr_gym.data.loading import DatasetSource, load_dataset, reading_episodes
from rr_gym.data.storage import RR_GYM_METADATA_KEY, datasets_root

__all__ = ["DatasetSummary", "list_local_datasets", "summarize"]


@dataclass(frozen=True)
class DatasetSummary:
    """Key facts of one dataset.

    Attributes:
        dataset_id: Minari id.
        path: the dataset's folder.
        env_id: id of the env that generated it (None if unknown).
        total_steps: transitions.
        total_episodes: episodes.
        size_mb: size on disk, MB.
        mean_return: mean undiscounted episode return (None when not computed).
        generator: ``"pointmaze"``/``"locomotion"`` for rr_gym datasets, else None.
    """

    dataset_id: str
    path: Path
    env_id: str | None
    total_steps: int
    total_episodes: int
    size_mb: float
    mean_return: float | None
    generator: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def _mean_return(dataset: Any) -> float | None:
    with reading_episodes(dataset):
        returns = [float(np.sum(ep.rewards)) for ep in dataset.iterate_episodes()]
    return float(np.mean(returns)) if returns else None


def summarize(source: DatasetSource, *, compute_return: bool = True) -> DatasetSummary:
    """Summary of a dataset (id, path or MinariDataset).

    The mean return comes from rr_gym's metadata when present; otherwise it is computed
    by reading every episode when ``compute_return`` is True.

    Raises:
        DatasetNotFoundError: ``source`` is not a local dataset.
        DataError: the dataset's data file is missing, truncated or corrupt (names the file
            and how to regenerate it).
    """
    dataset = load_dataset(source, download=False)
    meta = dataset.storage.metadata
    extra = meta.get(RR_GYM_METADATA_KEY) or {}
    mean = extra.get("mean_return") if isinstance(extra, dict) else None
    if mean is None and compute_return:
        mean = _mean_return(dataset)
    env_spec = dataset.env_spec
    return DatasetSummary(
        dataset_id=dataset.id,
        path=Path(dataset.storage.data_path).parent,
        env_id=None if env_spec is None else env_spec.id,
        total_steps=int(meta.get("total_steps", 0)),
        total_episodes=int(meta.get("total_episodes", 0)),
        size_mb=float(meta.get("dataset_size", dataset.storage.get_size())),
        mean_return=None if mean is None else float(mean),
        generator=extra.get("generator") if isinstance(extra, dict) else None,
    )


def list_local_datasets(*, compute_returns: bool = True) -> list[DatasetSummary]:
    """Summaries of every dataset under the Minari root, sorted by id.

    Raises:
        DataError: a dataset's data file is missing, truncated or corrupt (names the file
            and how to regenerate it).
    """
    import minari

    if not datasets_root().is_dir():
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Minari warns about misconfigured folders
        ids = sorted(minari.list_local_datasets())
    return [summarize(datasets_root() / i, compute_return=compute_returns) for i in ids]
