"""Using any reward model as a guide for diffusion sampling."""

from __future__ import annotations

from typing import Literal

import torch

from rr_gym.diffusion.gaussian import GaussianDiffusion
from rr_gym.errors import ConfigError
from rr_gym.rewards.base import TorchRewardModel

__all__ = ["RewardGradient"]


class RewardGradient:
    """The gradient of a reward, taken at ``x_t`` or at the base model's posterior mean.

    The official code trains at the base posterior mean and guides at ``x_t``; both are
    offered so that the choice can be measured.

    Args:
        reward: any torch reward model.
        at: ``"x_t"`` or ``"posterior_mean"``.
        diffusion: the model being guided (needed for ``at="posterior_mean"``).

    Shapes:
        ``x`` ``(B, H, D)`` normalised, ``t`` ``(B,)`` -> ``(B, H, D)``.
    """

    def __init__(
        self,
        reward: TorchRewardModel,
        *,
        at: Literal["x_t", "posterior_mean"] = "x_t",
        diffusion: GaussianDiffusion | None = None,
    ) -> None:
        if at not in ("x_t", "posterior_mean"):
            raise ConfigError(f"at={at!r}; expected 'x_t' or 'posterior_mean'")
        if at == "posterior_mean" and diffusion is None:
            raise ConfigError("at='posterior_mean' needs the diffusion model being guided")
        self.reward = reward
        self.at = at
        self.diffusion = diffusion

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        point = x
        if self.at == "posterior_mean":
            assert self.diffusion is not None
            with torch.no_grad():
                point = self.diffusion.posterior_mean(x, t)
        return self.reward.gradient(point, t)
