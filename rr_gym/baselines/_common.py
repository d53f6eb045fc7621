"""Helpers shared by the baseline trainers: loop options, seeded construction, RNG isolation."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import torch

from rr_gym.training import TrainConfig

__all__ = ["isolated_global_state", "loop_config", "seeded"]

T = TypeVar("T")


def seeded(build: Callable[[], T], seed: int) -> T:
    """Run ``build`` with torch's global RNG seeded, restoring the RNG afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@contextlib.contextmanager
def isolated_global_state() -> Iterator[None]:
    """Restore the Python, NumPy and torch global RNG states on exit.

    Stable-Baselines3 seeds the global generators when given a seed; rr_gym never leaves
    them changed.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)


def loop_config(
    *,
    steps: int,
    seed: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    ema_decay: float | None,
    grad_clip: float | None,
    checkpoint_dir: str | os.PathLike[str] | None,
    checkpoint_every: int | None,
    progress: bool,
    log_every: int = 100,
) -> TrainConfig:
    """A :class:`~rr_gym.training.TrainConfig` from the keyword options of a train function."""
    return TrainConfig(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        ema_decay=ema_decay,
        grad_clip=grad_clip,
        log_every=log_every,
        checkpoint_every=checkpoint_every,
        checkpoint_dir=None if checkpoint_dir is None else os.fspath(checkpoint_dir),
        seed=seed,
        progress=progress,
    )
