"""Shared fixtures: one torch thread, a saved reward checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from rr_gym.layout import TransitionLayout
from tests._factories import relative_reward

MAZE_LAYOUT = TransitionLayout.from_sizes(
    observation=4, action=2, next_observation=4, observation_key="observation"
)


@pytest.fixture(autouse=True, scope="session")
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def maze_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny RelativeRewardModel over PointMaze (observation, action, next_observation)."""
    path = tmp_path_factory.mktemp("ckpt") / "maze_reward"
    relative_reward(MAZE_LAYOUT, seed=3).save(path)
    return path
