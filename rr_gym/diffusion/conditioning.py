"""Inpainting: entries of a trajectory that are known (e.g. the current state) and imposed."""

from __future__ import annotations

from typing import NamedTuple

import torch

from rr_gym.layout import TransitionLayout

__all__ = ["Inpainting"]


class Inpainting(NamedTuple):
    """Known entries imposed on a trajectory after every denoising (and guidance) step.

    Attributes:
        mask: bool ``(B, H, D)`` (or broadcastable), True where the value is known.
        values: ``(B, H, D)`` (or broadcastable) known values in normalised space.
    """

    mask: torch.Tensor
    values: torch.Tensor

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` ``(B, H, D)`` with the known entries overwritten."""
        return torch.where(self.mask, self.values.to(x.dtype), x)

    @classmethod
    def current_state(
        cls, state: torch.Tensor, layout: TransitionLayout, horizon: int, field: str = "observation"
    ) -> Inpainting:
        """Impose ``state`` ``(B, size)`` (normalised) on field ``field`` at step 0.

        Example:
            >>> layout = TransitionLayout.from_sizes(observation=2, action=1)
            >>> cond = Inpainting.current_state(torch.ones(3, 2), layout, horizon=4)
            >>> cond.apply(torch.zeros(3, 4, 3))[0, 0]
            tensor([1., 1., 0.])
        """
        batch = state.shape[0]
        mask = torch.zeros(batch, horizon, layout.dim, dtype=torch.bool, device=state.device)
        values = torch.zeros(batch, horizon, layout.dim, dtype=state.dtype, device=state.device)
        sl = layout.slice(field)
        mask[:, 0, sl] = True
        values[:, 0, sl] = state
        return cls(mask, values)
