"""Exponential moving average of a module's weights."""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["EMA"]


class EMA:
    """Keeps ``shadow = decay * shadow + (1 - decay) * weights`` after each update.

    The effective decay warms up as ``min(decay, (1 + n) / (10 + n))`` over the first
    updates so the average is not dominated by the random initialisation.

    Args:
        module: the module whose weights are averaged (a frozen copy is kept).
        decay: the target decay in (0, 1).
    """

    def __init__(self, module: nn.Module, decay: float = 0.995) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay={decay} must be in (0, 1)")
        self.decay = decay
        self.updates = 0
        self.shadow = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        """Move the average towards ``module``'s current weights."""
        self.updates += 1
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, cur in zip(self.shadow.parameters(), module.parameters(), strict=True):
            avg.lerp_(cur.detach(), 1.0 - d)
        for avg_b, cur_b in zip(self.shadow.buffers(), module.buffers(), strict=True):
            avg_b.copy_(cur_b)
