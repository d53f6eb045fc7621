"""The relative reward network r(window, t): an MLP with a diffusion-step embedding."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rr_gym.diffusion.embeddings import TimeEmbedding
from rr_gym.errors import ConfigError

__all__ = ["FoldableMLP", "TwiceDifferentiableMish", "WindowRewardNet"]


@dataclass(frozen=True)
class FoldableMLP:
    """A reward at one diffusion step as a plain MLP a scorer can fold into NumPy arrays.

    The reward of a (normalised) window ``w`` is ``linears[-1](... mish(linears[0]([w.flat,
    time_embedding])))``: Mish between every two Linear layers, one output.

    Attributes:
        linears: the Linear layers, in order.
        time_embedding: the step's embedding ``(time_dim,)``, the first layer's last inputs.
    """

    linears: list[nn.Linear]
    time_embedding: torch.Tensor


class TwiceDifferentiableMish(nn.Mish):
    """``nn.Mish`` whose second derivative stays finite.

    Gradient matching differentiates the network's input gradient (a double backward).
    PyTorch's fused Mish backward differentiates to NaN above ``z`` of about 88.7 (its
    ``exp`` overflows), which Hopper rewards reach within a few hundred steps; the composite
    ``z * tanh(softplus(z))`` is the same function (to 1e-6), finite at every order, and
    faster in a double backward on CPU (benchmarks/RESULTS.md, "Reward extraction speed").

    Example:
        >>> z = torch.tensor([100.0], requires_grad=True)
        >>> (g,) = torch.autograd.grad(TwiceDifferentiableMish()(z).sum(), z, create_graph=True)
        >>> torch.autograd.grad(g.sum(), z)[0]
        tensor([0.])
    """

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z * torch.tanh(F.softplus(z))


class WindowRewardNet(nn.Module):
    """A smooth MLP scoring a window of transitions at a diffusion step.

    Smooth activations (Mish) matter: gradient matching differentiates the network's input
    gradient with respect to its weights (a double backward); see
    :class:`TwiceDifferentiableMish`.

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
            layers += [nn.Linear(width, hidden_dim), TwiceDifferentiableMish()]
            width = hidden_dim
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # The first layer is ``W [w, emb(t)] + b``. Its step part is computed once per distinct
        # step and gathered: a batch of B trajectories scores B * H windows at B steps, and
        # the embedding MLP on every window cost as much as a hidden layer (same function).
        first = self.mlp[0]
        assert isinstance(first, nn.Linear)
        n_in = first.in_features - self.config["time_dim"]
        steps, index = torch.unique(t, return_inverse=True)
        from_t = F.linear(self.time_emb(steps), first.weight[:, n_in:], first.bias)
        h = F.linear(w.reshape(w.shape[0], -1), first.weight[:, :n_in]) + from_t[index]
        return self.mlp[1:](h).squeeze(-1)

    @torch.no_grad()
    def foldable(self, t: int) -> FoldableMLP:
        """The network at diffusion step ``t`` as a :class:`FoldableMLP`."""
        linears = [m for m in self.mlp if isinstance(m, nn.Linear)]
        first = linears[0]
        emb = self.time_emb(torch.tensor([t], device=first.weight.device))[0]
        return FoldableMLP(linears, emb)
