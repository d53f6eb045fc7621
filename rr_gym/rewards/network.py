"""The relative reward network r(window, t): an MLP with a diffusion-step embedding."""

from __future__ import annotations

import torch
from torch import nn

from rr_gym.diffusion.embeddings import TimeEmbedding
from rr_gym.errors import ConfigError

__all__ = ["WindowRewardNet"]


class WindowRewardNet(nn.Module):
    """A smooth MLP scoring a window of transitions at a diffusion step.

    Smooth activations (Mish) matter: gradient matching differentiates the network's input
    gradient with respect to its weights (a double backward).

    Args:
        window: transitions per window.
        transition_dim: size D of one transition.
        hidden_dim: hidden width.
        depth: hidden layers.
        time_dim: size of the diffusion-step embedding.

    Shapes:
        ``w`` ``(M, window, D)``, ``t`` ``(M,)`` -> ``(M,)``.

    Example:
        >>> net = WindowRewardNet(window=1, transition_dim=2, hidden_dim=16)
        >>> net(torch.zeros(3, 1, 2), torch.zeros(3, dtype=torch.long)).shape
        torch.Size([3])
    """

    def __init__(
        self,
        window: int,
        transition_dim: int,
        hidden_dim: int = 256,
        depth: int = 3,
        time_dim: int = 32,
    ) -> None:
        super().__init__()
        if min(window, transition_dim, hidden_dim, depth) < 1:
            raise ConfigError(
                f"WindowRewardNet sizes must be positive: window={window}, "
                f"transition_dim={transition_dim}, hidden_dim={hidden_dim}, depth={depth}"
            )
        if time_dim < 2 or time_dim % 2:
            raise ConfigError(f"time_dim={time_dim}; expected a positive even size")
        self.config = {
            "window": window,
            "transition_dim": transition_dim,
            "hidden_dim": hidden_dim,
            "depth": depth,
            "time_dim": time_dim,
        }
        self.time_emb = TimeEmbedding(time_dim)
        layers: list[nn.Module] = []
        width = window * transition_dim + time_dim
        for _ in range(depth):
            layers += [nn.Linear(width, hidden_dim), nn.Mish()]
            width = hidden_dim
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        h = torch.cat([w.reshape(w.shape[0], -1), self.time_emb(t)], dim=-1)
        return self.mlp(h).squeeze(-1)
