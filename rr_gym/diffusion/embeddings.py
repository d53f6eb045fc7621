"""Sinusoidal embeddings of the diffusion step, shared by denoisers and reward networks."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SinusoidalPosEmb", "TimeEmbedding"]


class SinusoidalPosEmb(nn.Module):
    """Transformer-style sinusoidal embedding of a scalar step.

    Args:
        dim: embedding size (even).

    Shapes:
        ``t`` ``(B,)`` (int or float) -> ``(B, dim)``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"SinusoidalPosEmb needs an even dim, got {dim}")
        self.dim = dim
        half = dim // 2
        freqs = torch.exp(torch.arange(half) * -(math.log(10000.0) / max(half - 1, 1)))
        self.register_buffer("freqs", freqs, persistent=False)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        args = t.to(self.freqs.dtype)[:, None] * self.freqs[None, :]
        return torch.cat([args.sin(), args.cos()], dim=-1)


class TimeEmbedding(nn.Sequential):
    """Sinusoidal embedding followed by a two-layer MLP, as in Diffuser.

    Shapes:
        ``t`` ``(B,)`` -> ``(B, dim)``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__(
            SinusoidalPosEmb(dim), nn.Linear(dim, dim * 4), nn.Mish(), nn.Linear(dim * 4, dim)
        )
