"""Tiny models shared by the core tests; every builder seeds its own RNG, never the global one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

from rr_gym.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule, TemporalUnet
from rr_gym.diffusion.analytic import GaussianMixtureDiffusion
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import RelativeRewardModel, TorchRewardModel

T = TypeVar("T")


def seeded(build: Callable[[], T], seed: int) -> T:
    """Run ``build`` with the torch RNG seeded, restoring the global RNG state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def mlp_diffusion(
    horizon: int = 1,
    dim: int = 2,
    *,
    n_steps: int = 10,
    seed: int = 0,
    hidden_dim: int = 16,
    **kwargs: object,
) -> GaussianDiffusion:
    """A GaussianDiffusion around a tiny MLP denoiser."""
    return seeded(
        lambda: GaussianDiffusion(
            MLPDenoiser(horizon, dim, hidden_dim=hidden_dim, depth=1, time_dim=8),
            NoiseSchedule(n_steps),
            **kwargs,  # type: ignore[arg-type]
        ),
        seed,
    )


def unet_diffusion(
    horizon: int = 8, dim: int = 3, *, n_steps: int = 10, seed: int = 0, **kwargs: object
) -> GaussianDiffusion:
    """A GaussianDiffusion around a tiny temporal U-Net (two levels, 16 channels)."""
    return seeded(
        lambda: GaussianDiffusion(
            TemporalUnet(horizon, dim, dim=16, dim_mults=(1, 2)),
            NoiseSchedule(n_steps),
            **kwargs,  # type: ignore[arg-type]
        ),
        seed,
    )


def relative_reward(
    layout: TransitionLayout | None = None,
    normalizer: Normalizer | None = None,
    *,
    seed: int = 0,
    **kwargs: object,
) -> RelativeRewardModel:
    """A tiny RelativeRewardModel (hidden 16, depth 2)."""
    layout = layout or TransitionLayout.flat(2)
    options: dict[str, object] = {"hidden_dim": 16, "depth": 2, "time_dim": 8, **kwargs}
    return seeded(
        lambda: RelativeRewardModel(layout, normalizer, **options),  # type: ignore[arg-type]
        seed,
    )


# Two-component mixture in 2-D with unequal weights (the sampler tests' target).
MIX_MEANS = np.array([[-2.0, 0.5], [1.5, -1.0]])
MIX_STDS = np.array([[0.5, 0.3], [0.4, 0.6]])
MIX_WEIGHTS = np.array([0.3, 0.7])


def mixture(
    n_steps: int = 100, horizon: int = 1, kind: str = "cosine", **kwargs: object
) -> GaussianMixtureDiffusion:
    """The exact diffusion model of the two-component mixture above."""
    return GaussianMixtureDiffusion(
        MIX_MEANS,
        MIX_STDS,
        NoiseSchedule(n_steps, kind),  # type: ignore[arg-type]
        weights=MIX_WEIGHTS,
        horizon=horizon,
        **kwargs,  # type: ignore[arg-type]
    )


def mixture_moments() -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(2,)`` and standard deviation ``(2,)`` of the mixture above."""
    w = MIX_WEIGHTS[:, None]
    mean = (w * MIX_MEANS).sum(0)
    second = (w * (MIX_STDS**2 + MIX_MEANS**2)).sum(0)
    return mean, np.sqrt(second - mean**2)


def gaussian(
    mean: list[float], std: list[float], n_steps: int = 20, horizon: int = 1
) -> GaussianMixtureDiffusion:
    """The exact diffusion model of one diagonal Gaussian."""
    return GaussianMixtureDiffusion(
        np.array([mean]), np.array([std]), NoiseSchedule(n_steps), horizon=horizon
    )


class ToyLinearReward(TorchRewardModel):
    """A parameter-free reward with a known gradient: window ``w`` ``(M, window, D)`` at
    step ``t`` scores ``(1 + t_slope * t) * sum_k coef[k] . w[:, k]``.

    Args:
        coef: ``(window, D)`` weights (the window is taken from its first axis).
    """

    coef: torch.Tensor

    def __init__(
        self,
        coef: list[list[float]],
        *,
        t_slope: float = 0.0,
        reduction: str = "sum",
        normalizer: Normalizer | None = None,
    ) -> None:
        weights = torch.tensor(coef, dtype=torch.float32)
        super().__init__(
            TransitionLayout.flat(weights.shape[1]),
            normalizer,
            window=weights.shape[0],
            reduction=reduction,  # type: ignore[arg-type]
        )
        self.register_buffer("coef", weights)
        self.t_slope = t_slope

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return (1 + self.t_slope * t.to(w.dtype)) * (w * self.coef).sum((1, 2))


class ToyQuadraticReward(TorchRewardModel):
    """A parameter-free Markov reward ``-|x - goal|^2``, highest at ``goal`` ``(D,)``."""

    goal: torch.Tensor

    def __init__(self, goal: list[float]) -> None:
        super().__init__(TransitionLayout.flat(len(goal)))
        self.register_buffer("goal", torch.tensor(goal, dtype=torch.float32))

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        del t  # the same at every diffusion step
        return -((w[:, 0] - self.goal) ** 2).sum(1)
