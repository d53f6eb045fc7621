"""Diffuser's temporal U-Net (Janner et al., 2022) over ``(batch, horizon, transition_dim)``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from rr_gym.diffusion.denoiser import Denoiser
from rr_gym.diffusion.embeddings import TimeEmbedding
from rr_gym.errors import ConfigError

__all__ = ["TemporalUnet"]


class _ConvBlock(nn.Sequential):
    """Conv1d -> GroupNorm -> Mish over ``(B, C, H)``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, groups: int) -> None:
        super().__init__(
            nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2),
            nn.GroupNorm(groups, c_out),
            nn.Mish(),
        )


class _ResidualTemporalBlock(nn.Module):
    """Two conv blocks with the time embedding added in between, plus a residual path."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int, kernel: int, groups: int) -> None:
        super().__init__()
        self.block1 = _ConvBlock(c_in, c_out, kernel, groups)
        self.block2 = _ConvBlock(c_out, c_out, kernel, groups)
        self.time = nn.Sequential(nn.Mish(), nn.Linear(embed_dim, c_out))
        self.residual = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.block1(x) + self.time(emb)[:, :, None]
        return self.block2(h) + self.residual(x)


class TemporalUnet(Denoiser):
    """A 1-D U-Net that convolves over the horizon axis, conditioned on the diffusion step.

    Args:
        horizon: trajectory length H; must be divisible by ``2 ** (len(dim_mults) - 1)``.
        transition_dim: size D of one transition (the input channels).
        dim: base channel count (a multiple of ``groups``).
        dim_mults: channel multipliers per resolution level.
        kernel_size: temporal convolution kernel.
        groups: GroupNorm groups.

    Shapes:
        ``x`` ``(B, H, D)``, ``t`` ``(B,)`` -> ``(B, H, D)``.

    Example:
        >>> net = TemporalUnet(horizon=8, transition_dim=3, dim=16, dim_mults=(1, 2))
        >>> net(torch.zeros(2, 8, 3), torch.tensor([0, 4])).shape
        torch.Size([2, 8, 3])
    """

    def __init__(
        self,
        horizon: int,
        transition_dim: int,
        dim: int = 32,
        dim_mults: Sequence[int] = (1, 2, 4),
        kernel_size: int = 5,
        groups: int = 8,
    ) -> None:
        super().__init__()
        dim_mults = tuple(int(m) for m in dim_mults)
        factor = 2 ** (len(dim_mults) - 1)
        if horizon < 1 or horizon % factor:
            raise ConfigError(
                f"TemporalUnet horizon={horizon} must be a positive multiple of {factor} "
                f"(2 ** (len(dim_mults) - 1) with dim_mults={dim_mults}); "
                "change the horizon or use fewer levels"
            )
        if dim % groups:
            raise ConfigError(f"TemporalUnet dim={dim} must be a multiple of groups={groups}")
        self.horizon = horizon
        self.transition_dim = transition_dim
        self.config = {
            "horizon": horizon,
            "transition_dim": transition_dim,
            "dim": dim,
            "dim_mults": list(dim_mults),
            "kernel_size": kernel_size,
            "groups": groups,
        }
        dims = [transition_dim, *(dim * m for m in dim_mults)]
        pairs = list(itertools.pairwise(dims))
        self.time_emb = TimeEmbedding(dim)

        def block(c_in: int, c_out: int) -> _ResidualTemporalBlock:
            return _ResidualTemporalBlock(c_in, c_out, dim, kernel_size, groups)

        self.downs = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(pairs):
            last = i == len(pairs) - 1
            down = nn.Identity() if last else nn.Conv1d(c_out, c_out, 3, stride=2, padding=1)
            self.downs.append(nn.ModuleList([block(c_in, c_out), block(c_out, c_out), down]))
        mid = dims[-1]
        self.mid1, self.mid2 = block(mid, mid), block(mid, mid)
        self.ups = nn.ModuleList()
        # Every up level doubles the length again; the finest skip is not needed (as Diffuser).
        for c_in, c_out in reversed(pairs[1:]):
            up = nn.ConvTranspose1d(c_in, c_in, 4, stride=2, padding=1)
            self.ups.append(nn.ModuleList([block(c_out * 2, c_in), block(c_in, c_in), up]))
        self.final = nn.Sequential(
            _ConvBlock(dim, dim, kernel_size, groups), nn.Conv1d(dim, transition_dim, 1)
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = x.transpose(1, 2)  # (B, D, H)
        emb = self.time_emb(t)
        skips = []
        for res1, res2, down in self.downs:  # type: ignore[misc]
            h = res2(res1(h, emb), emb)
            skips.append(h)
            h = down(h)
        h = self.mid2(self.mid1(h, emb), emb)
        for res1, res2, up in self.ups:  # type: ignore[misc]
            h = torch.cat([h, skips.pop()], dim=1)
            h = res2(res1(h, emb), emb)
            h = up(h)
        return self.final(h).transpose(1, 2)
