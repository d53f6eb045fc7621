"""The bench's data: building dataset units, and the train / held-out views of a pair.

Every ``holdout_every``-th episode (by Minari episode id) of each dataset is held out:
models train on the rest, metrics are computed on those episodes only.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rr_gym.bench.pairs import DatasetRef, PairSpec
from rr_gym.data.loading import load_dataset
from rr_gym.data.storage import minari_root_env
from rr_gym.data.windows import TailPolicy, WindowDataset, make_windows
from rr_gym.errors import ConfigError, DataError

__all__ = ["FlatTransitions", "PairData", "Part", "Role", "build_dataset_unit", "dataset_source"]

logger = logging.getLogger(__name__)

Role = Literal["base", "expert"]
Part = Literal["train", "test", "all"]


def build_dataset_unit(unit: dict[str, Any], path: Path, *, progress: bool) -> None:
    """Generate the datasets of one unit config into the Minari root ``path``.

    Raises:
        ConfigError: an unknown generator.
    """
    generator = unit.get("generator")
    with minari_root_env(path):
        if generator == "pointmaze":
            from rr_gym.data.pointmaze import generate_pointmaze

            generate_pointmaze(
                unit["maze"],
                steps=int(unit["steps"]),
                seed=int(unit["seed"]),
                goal=unit.get("goal"),
                reward_type=unit.get("reward_type", "sparse"),
                on_arrival=unit.get("on_arrival", "restart"),
                progress=progress,
            )
        elif generator == "locomotion":
            from rr_gym.data.locomotion_datasets import generate_locomotion

            generate_locomotion(
                unit["env"],
                levels=list(unit["levels"]),
                train_steps=int(unit["train_steps"]),
                steps_per_level=int(unit["steps_per_level"]),
                seed=int(unit["seed"]),
                eval_every=int(unit["eval_every"]),
                policy_dir=path / "policies",
                progress=progress,
            )
        else:
            raise ConfigError(
                f"dataset unit {unit!r} has generator={generator!r}; expected 'pointmaze' or "
                "'locomotion'"
            )


def dataset_source(ref: DatasetRef, unit_path: Path | None) -> str:
    """What :func:`rr_gym.data.load_dataset` opens: the generated dataset's folder inside
    its unit, or the Minari id of a ``source: minari`` dataset."""
    if ref.unit.get("source") == "minari":
        return ref.dataset_id
    if unit_path is None:
        raise ConfigError(f"dataset {ref.dataset_id!r} is generated but its unit was not built")
    return os.fspath(unit_path / ref.dataset_id)


@dataclass(frozen=True)
class FlatTransitions:
    """Transitions ``(s, a, s')`` with flat observations (dict observations: one entry).

    Attributes:
        obs: ``(N, o)`` float32.
        act: ``(N, a)`` float32.
        next_obs: ``(N, o)`` float32.
        rewards: ``(N,)`` the dataset's rewards.
        terminals: ``(N,)`` bool, the episode terminated at this step.
        episode_ids: ``(N,)`` int64.
    """

    obs: np.ndarray
    act: np.ndarray
    next_obs: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    episode_ids: np.ndarray

    def __len__(self) -> int:
        return len(self.obs)

    def subsample(self, n: int, rng: np.random.Generator) -> FlatTransitions:
        """At most ``n`` transitions drawn without replacement (all when fewer)."""
        if len(self) <= n:
            return self
        idx = np.sort(rng.choice(len(self), n, replace=False))
        return FlatTransitions(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


class PairData:
    """Lazy, in-memory views of a pair's two datasets.

    Args:
        pair: the pair.
        sources: role -> what ``load_dataset`` opens (see :func:`dataset_source`).
        holdout_every: every n-th episode is held out (``test``).
        progress: progress bars while reading.
    """

    def __init__(
        self,
        pair: PairSpec,
        sources: dict[str, str],
        *,
        holdout_every: int = 10,
        progress: bool = False,
    ) -> None:
        if holdout_every < 2:
            raise ConfigError(f"holdout_every={holdout_every}; expected at least 2")
        self.pair = pair
        self.sources = sources
        self.holdout_every = int(holdout_every)
        self.progress = progress
        self._windows: dict[tuple[str, int, int, str], WindowDataset] = {}
        self._transitions: dict[str, FlatTransitions] = {}

    def _mask(self, episode_ids: np.ndarray, part: Part) -> np.ndarray:
        held = (episode_ids % self.holdout_every) == 0
        if part == "all":
            return np.ones_like(held)
        return held if part == "test" else ~held

    def windows(
        self,
        role: Role,
        *,
        horizon: int,
        stride: int = 1,
        tail: TailPolicy = "drop",
        part: Part = "train",
    ) -> WindowDataset:
        """Windows ``(N, horizon, D)`` of one dataset, in the dataset's layout.

        Args:
            role: ``"base"`` or ``"expert"``.
            horizon, stride, tail: see :func:`rr_gym.data.make_windows` (``tail="pad"``
                repeats each episode's last transition, so episodes that end on arrival at
                a goal keep their final states, and short episodes are kept).
            part: ``"train"``, ``"test"`` (held-out episodes) or ``"all"``.

        Raises:
            DataError: no window in the requested part.
        """
        key = (role, int(horizon), int(stride), str(tail))
        if key not in self._windows:
            self._windows[key] = make_windows(
                self.sources[role],
                horizon=horizon,
                stride=stride,
                tail=tail,
                progress=self.progress,
            )
        data = self._windows[key]
        mask = self._mask(data.episode_ids, part)
        if not mask.any():
            raise DataError(
                f"{self.pair.name}: the {role} dataset has no {part} window of horizon {horizon} "
                f"({data.metadata.get('num_episodes')} episodes, every {self.holdout_every}th "
                "held out); generate more data"
            )
        return data if part == "all" else data.subset(mask)

    def transitions(self, role: Role, part: Part = "train") -> FlatTransitions:
        """Every transition ``(s, a, s')`` of one dataset's episodes in ``part``."""
        if role not in self._transitions:
            self._transitions[role] = self._read_transitions(role)
        data = self._transitions[role]
        mask = self._mask(data.episode_ids, part)
        if not mask.any():
            raise DataError(f"{self.pair.name}: the {role} dataset has no {part} transition")
        return FlatTransitions(*(getattr(data, f)[mask] for f in data.__dataclass_fields__))

    def _read_transitions(self, role: str) -> FlatTransitions:
        dataset = load_dataset(self.sources[role])
        key = self.pair.kind_impl.observation_key
        parts: dict[str, list[np.ndarray]] = {k: [] for k in FlatTransitions.__dataclass_fields__}
        for episode in dataset.iterate_episodes():
            n = len(episode.rewards)
            if n == 0:
                continue
            obs = episode.observations[key] if key is not None else episode.observations
            obs = np.asarray(obs, np.float32).reshape(n + 1, -1)
            parts["obs"].append(obs[:-1])
            parts["next_obs"].append(obs[1:])
            parts["act"].append(np.asarray(episode.actions, np.float32).reshape(n, -1))
            parts["rewards"].append(np.asarray(episode.rewards, np.float64))
            parts["terminals"].append(np.asarray(episode.terminations, bool))
            parts["episode_ids"].append(np.full(n, int(episode.id), np.int64))
        if not parts["obs"]:
            raise DataError(f"{self.pair.name}: dataset {self.sources[role]} has no transition")
        return FlatTransitions(
            *(np.concatenate(parts[k]) for k in FlatTransitions.__dataclass_fields__)
        )
