"""An MLP denoiser for short horizons (single points or transitions, horizon 1)."""

from __future__ import annotations

import torch
from torch import nn

from rr_gym.diffusion.denoiser import Denoiser
from rr_gym.diffusion.embeddings import TimeEmbedding
from rr_gym.errors import ConfigError

__all__ = ["MLPDenoiser"]


class MLPDenoiser(Denoiser):
    """A residual MLP over the flattened trajectory, conditioned on a time embedding.

    Args:
        horizon: trajectory length H (1 for single points/transitions).
        transition_dim: size D of one transition.
        hidden_dim: width of the hidden layers.
        depth: number of residual hidden blocks.
        time_dim: size of the diffusion-step embedding.

    Shapes:
        ``x`` ``(B, H, D)``, ``t`` ``(B,)`` -> ``(B, H, D)``.

    Example:
        >>> net = MLPDenoiser(horizon=1, transition_dim=2, hidden_dim=32)
        >>> net(torch.zeros(5, 1, 2), torch.zeros(5, dtype=torch.long)).shape
        torch.Size([5, 1, 2])
    """

    def __init__(
        self,
        horizon: int,
        transition_dim: int,
        hidden_dim: int = 256,
        depth: int = 3,
        time_dim: int = 64,
    ) -> None:
        super().__init__()
        if horizon < 1 or transition_dim < 1 or hidden_dim < 1 or depth < 1:
            raise ConfigError(
                f"MLPDenoiser sizes must be positive, got horizon={horizon}, "
                f"transition_dim={transition_dim}, hidden_dim={hidden_dim}, depth={depth}"
            )
        self.horizon = horizon
        self.transition_dim = transition_dim
        self.config = {
            "horizon": horizon,
            "transition_dim": transition_dim,
            "hidden_dim": hidden_dim,
            "depth": depth,
            "time_dim": time_dim,
        }
        flat = horizon * transition_dim
        self.time_emb = TimeEmbedding(time_dim)
        self.inp = nn.Linear(flat + time_dim, hidden_dim)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden_dim), nn.Linear(hidden_dim, hidden_dim), nn.Mish())
            for _ in range(depth)
        )
        self.out = nn.Linear(hidden_dim, flat)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        h = self.inp(torch.cat([x.reshape(batch, -1), self.time_emb(t)], dim=-1))
        for block in self.blocks:
            h = h + block(h)
        return self.out(h).reshape(batch, self.horizon, self.transition_dim)
