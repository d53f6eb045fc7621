"""Small networks shared by the baselines: an MLP builder and a running input normaliser."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from rr_gym.errors import ConfigError
from rr_gym.utils.moments import merge_moments

__all__ = ["ACTIVATIONS", "Activation", "RunningNorm", "build_mlp"]

Activation = Literal["relu", "tanh", "mish"]
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "mish": nn.Mish}


class RunningNorm(nn.Module):
    """Normalises inputs by running statistics, updated on every forward in training mode.

    The same layer as imitation's ``RunningNorm`` (parallel mean/variance update over all
    batches seen, ``eps`` added to the variance), so adversarial baselines see inputs on the
    scale of both the expert's and the learner's data. The statistics are buffers: they are
    saved with the weights and frozen in eval mode.

    Args:
        dim: feature size.
        eps: added to the variance before the square root.

    Shapes:
        ``x`` ``(B, dim)`` -> ``(B, dim)``.
    """

    running_mean: torch.Tensor
    running_var: torch.Tensor
    count: torch.Tensor

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        if dim < 1 or eps <= 0:
            raise ConfigError(f"RunningNorm needs dim >= 1 and eps > 0, got dim={dim}, eps={eps}")
        self.eps = eps
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Fold the batch ``x`` ``(B, dim)`` into the running mean and variance."""
        n = x.shape[0]
        if n == 0:
            return
        total, mean, var = merge_moments(
            self.count.item(), self.running_mean, self.running_var,
            n, x.mean(0), x.var(0, unbiased=False),
        )  # fmt: skip
        self.running_mean.copy_(mean)
        self.running_var.copy_(var)
        self.count.fill_(total)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.update(x)
        return (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)


def build_mlp(
    in_dim: int,
    hidden_sizes: Sequence[int],
    out_dim: int = 1,
    *,
    activation: Activation = "relu",
    running_norm: bool = False,
) -> nn.Sequential:
    """An MLP ``in_dim -> hidden_sizes... -> out_dim``, optionally behind a :class:`RunningNorm`.

    Args:
        in_dim: input size.
        hidden_sizes: widths of the hidden layers (may be empty: a linear map).
        out_dim: output size.
        activation: ``"relu"``, ``"tanh"`` or ``"mish"`` (smooth, for input gradients).
        running_norm: normalise inputs by running statistics first.

    Shapes:
        ``(B, in_dim)`` -> ``(B, out_dim)``.

    Example:
        >>> build_mlp(3, (8, 8), 2)(torch.zeros(5, 3)).shape
        torch.Size([5, 2])
    """
    if in_dim < 1 or out_dim < 1 or any(h < 1 for h in hidden_sizes):
        raise ConfigError(
            f"MLP sizes must be positive: in_dim={in_dim}, hidden_sizes={list(hidden_sizes)}, "
            f"out_dim={out_dim}"
        )
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation={activation!r}; expected one of {list(ACTIVATIONS)}")
    layers: list[nn.Module] = [RunningNorm(in_dim)] if running_norm else []
    width = in_dim
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        width = size
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)
