"""Seeded construction and isolation of the global random state (Python, NumPy, torch).

Example:
    >>> import torch
    >>> a = seeded(lambda: torch.rand(2), seed=0)
    >>> bool((a == seeded(lambda: torch.rand(2), seed=0)).all())
    True
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np
import torch

__all__ = ["isolated_global_state", "seeded"]

T = TypeVar("T")


def seeded(build: Callable[[], T], seed: int) -> T:
    """Run ``build`` with torch's global RNG seeded, restoring the RNG afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


@contextlib.contextmanager
def isolated_global_state(n_threads: int | None = None) -> Iterator[None]:
    """Restore the Python, NumPy and torch (CPU and CUDA) global RNG states, and torch's
    thread count, on exit; ``n_threads`` sets the thread count inside.

    Stable-Baselines3 seeds the global generators when given a seed; rr_gym never leaves
    them changed.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    threads = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        torch.set_num_threads(threads)
