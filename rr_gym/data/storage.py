"""Writing rr_gym-generated episodes as real Minari datasets, atomically.

Datasets are written with :func:`minari.create_dataset_from_buffers` under a hidden
temporary Minari root inside the real one (``<root>/.rr_gym-dataset.PID@HOST.*.tmp``, which
Minari's listing skips), then moved into place with one rename. An interrupted generation
therefore never leaves a half-written dataset under the final id, and the next generation
removes its temporary root (:func:`rr_gym.utils.io.remove_stale_temporaries`). The
dataset's ``metadata.json`` carries an ``"rr_gym"`` entry (generator, seed, layout, mean
return, reference scores, ...).

Example:
    >>> import tempfile, numpy as np, gymnasium as gym
    >>> ep = EpisodeArrays(
    ...     observations=np.zeros((4, 3)), actions=np.zeros((3, 1), np.float32),
    ...     rewards=np.ones(3), terminations=np.array([0, 0, 1], bool),
    ...     truncations=np.zeros(3, bool))
    >>> box = gym.spaces.Box(-1.0, 1.0, (3,), np.float64)
    >>> act = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    >>> with minari_root_env(tempfile.mkdtemp()):
    ...     with DatasetWriter("rr_gym/doc-demo-v0", observation_space=box,
    ...                        action_space=act) as writer:
    ...         writer.add(ep)
    >>> writer.result.total_steps, writer.result.mean_return
    (3, 3.0)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from rr_gym.errors import ConfigError, DataError
from rr_gym.utils.io import remove_stale_temporaries, replace_directory, temporary_directory

__all__ = [
    "DatasetWriter",
    "EpisodeArrays",
    "WriteResult",
    "dataset_content_hash",
    "datasets_root",
    "minari_root_env",
]

logger = logging.getLogger(__name__)

#: Target name of the temporary Minari roots that datasets are built in.
_TMP_NAME = "rr_gym-dataset"

RR_GYM_METADATA_KEY = "rr_gym"


def datasets_root() -> Path:
    """The Minari datasets root: ``$MINARI_DATASETS_PATH`` or ``~/.minari/datasets``.

    Same rule as ``minari.storage.get_dataset_path``; the folder is not created.
    """
    env = os.environ.get("MINARI_DATASETS_PATH")
    if env is not None:
        return Path(env)
    return Path(os.path.expanduser("~")) / ".minari" / "datasets"


@contextlib.contextmanager
def minari_root_env(root: str | os.PathLike[str]) -> Iterator[None]:
    """Point Minari at ``root`` (``MINARI_DATASETS_PATH``) inside the block, then restore it."""
    old = os.environ.get("MINARI_DATASETS_PATH")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("MINARI_DATASETS_PATH", None)
        else:
            os.environ["MINARI_DATASETS_PATH"] = old


@dataclass(frozen=True)
class EpisodeArrays:
    """One episode as arrays, Minari's convention (one more observation than actions).

    Attributes:
        observations: ``(T + 1, obs_dim)`` array, or a dict of such arrays (dict spaces).
        actions: ``(T, act_dim)`` array.
        rewards: ``(T,)`` rewards.
        terminations: ``(T,)`` bool.
        truncations: ``(T,)`` bool.
        options: reset options (JSON-friendly), stored as episode attributes.
        seed: the reset seed of this episode, if one was passed.
    """

    observations: np.ndarray | dict[str, np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    options: dict[str, Any] | None = None
    seed: int | None = None

    def __len__(self) -> int:
        return len(self.rewards)

    @property
    def episode_return(self) -> float:
        """Undiscounted sum of rewards."""
        return float(np.sum(self.rewards))

    def to_buffer(self) -> Any:
        """A ``minari.data_collector.EpisodeBuffer`` holding these arrays."""
        from minari.data_collector import EpisodeBuffer

        return EpisodeBuffer(
            seed=self.seed,
            options=self.options,
            observations=self.observations,
            actions=self.actions,
            rewards=self.rewards,
            terminations=self.terminations,
            truncations=self.truncations,
        )


@dataclass(frozen=True)
class WriteResult:
    """What :class:`DatasetWriter` wrote.

    Attributes:
        dataset_id: the Minari id.
        path: the dataset's folder (``<root>/<dataset_id>``).
        total_steps: number of transitions.
        total_episodes: number of episodes.
        mean_return: mean undiscounted episode return (NaN if no episode).
        seconds: wall time from opening the writer to the final rename.
    """

    dataset_id: str
    path: Path
    total_steps: int
    total_episodes: int
    mean_return: float
    seconds: float


@dataclass
class DatasetWriter:
    """Context manager that streams episodes into a new Minari dataset.

    Episodes are buffered and written in batches of ``batch_episodes`` through Minari's
    API; the dataset appears under ``dataset_id`` only when the block exits without error.

    Args:
        dataset_id: Minari id, e.g. ``"rr_gym/pointmaze-umaze-goal1-v0"``.
        env: env spec (or id) that generated the data; lets Minari recover the env.
        eval_env: env spec (or id) meant for evaluation (defaults to ``env``).
        observation_space: needed when ``env`` is None.
        action_space: needed when ``env`` is None.
        metadata: JSON-friendly dict stored under ``metadata.json["rr_gym"]``.
        ref_min_score: reference score of a random policy (Minari's normalisation).
        ref_max_score: reference score of an expert policy.
        algorithm_name: stored by Minari.
        description: stored by Minari.
        overwrite: replace an existing dataset of the same id (only after success).
        batch_episodes: episodes per write batch.
    """

    dataset_id: str
    env: EnvSpec | str | None = None
    eval_env: EnvSpec | str | None = None
    observation_space: gym.Space[Any] | None = None
    action_space: gym.Space[Any] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    ref_min_score: float | None = None
    ref_max_score: float | None = None
    algorithm_name: str = "rr_gym"
    description: str = "generated by rr_gym"
    overwrite: bool = False
    batch_episodes: int = 256
    result: WriteResult | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        from minari.dataset.minari_dataset import parse_dataset_id

        try:
            parse_dataset_id(self.dataset_id)
        except ValueError as exc:
            raise ConfigError(
                f"dataset id {self.dataset_id!r} is malformed; expected "
                "'namespace/name-vN', e.g. 'rr_gym/pointmaze-umaze-goal1-v0'"
            ) from exc
        if self.env is None and (self.observation_space is None or self.action_space is None):
            raise ConfigError("DatasetWriter needs env, or both observation_space and action_space")
        self._pending: list[EpisodeArrays] = []
        self._dataset: Any = None
        self._steps = 0
        self._returns: list[float] = []
        self._tmp_root: Path | None = None
        self._t0 = 0.0

    @property
    def final_path(self) -> Path:
        """Where the dataset will live: ``<root>/<dataset_id>``."""
        return datasets_root() / self.dataset_id

    def __enter__(self) -> DatasetWriter:
        self._t0 = time.perf_counter()
        root = datasets_root()
        if self.final_path.exists() and not self.overwrite:
            raise ConfigError(
                f"dataset {self.dataset_id!r} already exists at {self.final_path}; "
                "pass overwrite=True (CLI: --overwrite) or choose another id"
            )
        root.mkdir(parents=True, exist_ok=True)
        for stale in remove_stale_temporaries(root, _TMP_NAME):
            logger.info("removed %s, left by an interrupted dataset generation", stale)
        self._tmp_root = temporary_directory(root, _TMP_NAME)
        return self

    def add(self, episode: EpisodeArrays) -> None:
        """Queue one episode; writes a batch when ``batch_episodes`` are queued."""
        if len(episode) == 0:
            return
        self._pending.append(episode)
        self._steps += len(episode)
        self._returns.append(episode.episode_return)
        if len(self._pending) >= self.batch_episodes:
            self._flush()

    @property
    def total_steps(self) -> int:
        """Transitions added so far."""
        return self._steps

    @property
    def total_episodes(self) -> int:
        """Episodes added so far."""
        return len(self._returns)

    def _flush(self) -> None:
        if self._tmp_root is None:
            raise ConfigError("DatasetWriter.add called outside its `with` block")
        buffers = [ep.to_buffer() for ep in self._pending]
        self._pending = []
        with minari_root_env(self._tmp_root):
            if self._dataset is None:
                self._dataset = self._create(buffers)
            elif buffers:
                self._dataset.storage.update_episodes(buffers)

    def _create(self, buffers: list[Any]) -> Any:
        import minari

        with warnings.catch_warnings():
            # Minari asks for an author e-mail and a code permalink (we have neither) and
            # warns when data without an env is saved (the caller chose that).
            warnings.filterwarnings(
                "ignore", message=r".*(author_email|code_permalink|eval_env|env_spec is None).*"
            )
            return minari.create_dataset_from_buffers(
                dataset_id=self.dataset_id,
                buffer=buffers,
                env=self.env,
                eval_env=self.eval_env if self.eval_env is not None else self.env,
                observation_space=self.observation_space,
                action_space=self.action_space,
                algorithm_name=self.algorithm_name,
                author="rr_gym",
                description=self.description,
                ref_min_score=self.ref_min_score,
                ref_max_score=self.ref_max_score,
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        tmp_root = self._tmp_root
        try:
            if exc_type is None:
                self._finish()
        finally:
            if tmp_root is not None:
                shutil.rmtree(tmp_root, ignore_errors=True)
            self._tmp_root = None

    def _finish(self) -> None:
        if self.total_episodes == 0:
            raise DataError(f"no episode was added to dataset {self.dataset_id!r}; nothing written")
        self._flush()
        mean_return = float(np.mean(self._returns))
        extra = dict(self.metadata)
        extra.setdefault("total_steps", self._steps)
        extra.setdefault("total_episodes", self.total_episodes)
        extra["mean_return"] = mean_return
        extra["std_return"] = float(np.std(self._returns))
        from minari import MinariDataset

        # Re-open: a MinariDataset object only sees the episodes it was created with.
        extra["content_hash"] = dataset_content_hash(MinariDataset(self._dataset.storage.data_path))
        _check_json(extra, self.dataset_id)
        self._dataset.storage.update_metadata({RR_GYM_METADATA_KEY: extra})
        assert self._tmp_root is not None  # set in __enter__; internal invariant
        self._move_into_place(self._tmp_root / self.dataset_id)
        self.result = WriteResult(
            dataset_id=self.dataset_id,
            path=self.final_path,
            total_steps=self._steps,
            total_episodes=self.total_episodes,
            mean_return=mean_return,
            seconds=time.perf_counter() - self._t0,
        )
        logger.info(
            "wrote %s: %d steps, %d episodes, mean return %.2f, in %.1f s",
            self.dataset_id,
            self._steps,
            self.total_episodes,
            mean_return,
            self.result.seconds,
        )

    def _move_into_place(self, built: Path) -> None:
        from minari.dataset.minari_dataset import parse_dataset_id
        from minari.namespace import create_namespace, list_local_namespaces

        namespace = parse_dataset_id(self.dataset_id)[0]
        if namespace is not None and namespace not in list_local_namespaces():
            create_namespace(namespace)
        target = self.final_path
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_directory(built, target, replaces=_is_dataset, what="a Minari dataset")


def _is_dataset(path: Path) -> bool:
    """Whether ``path`` is a Minari dataset folder (which ``overwrite=True`` may replace)."""
    return (path / "data").is_dir() or (path / "metadata.json").is_file()


def _check_json(obj: Any, dataset_id: str) -> None:
    try:
        json.dumps(obj)
    except TypeError as exc:
        raise ConfigError(f"metadata of {dataset_id!r} is not JSON-friendly: {exc}") from exc


def _hash_tree(h: Any, value: Any) -> None:
    if isinstance(value, Mapping):
        for key in sorted(value):
            h.update(str(key).encode())
            _hash_tree(h, value[key])
    elif isinstance(value, tuple | list) and not (value and np.isscalar(value[0])):
        for item in value:
            _hash_tree(h, item)
    else:
        arr = np.ascontiguousarray(np.asarray(value))
        h.update(f"{arr.dtype.str}{arr.shape}".encode())
        h.update(arr.tobytes())


def dataset_content_hash(dataset: Any) -> str:
    """SHA-256 over every episode's arrays (observations, actions, rewards, flags).

    Args:
        dataset: a ``minari.MinariDataset``.

    Returns:
        Hex digest; equal for two datasets with identical episode contents.
    """
    h = hashlib.sha256()
    for episode in dataset.iterate_episodes():
        for name in ("observations", "actions", "rewards", "terminations", "truncations"):
            h.update(name.encode())
            _hash_tree(h, getattr(episode, name))
    return h.hexdigest()
