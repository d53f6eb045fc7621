"""The guide hook of guided sampling: a gradient field added to the sample at each step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from rr_gym.errors import ConfigError

__all__ = ["GuidanceConfig", "GuideFn"]


@runtime_checkable
class GuideFn(Protocol):
    """Anything that returns the gradient of a scalar objective of the trajectory.

    Shapes:
        ``x`` ``(B, H, D)`` (normalised), ``t`` ``(B,)`` long -> gradient ``(B, H, D)``.
    """

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor: ...


@dataclass(frozen=True)
class GuidanceConfig:
    """How a guide steers sampling (Diffuser-style).

    At each step ``t >= t_stopgrad`` the sample takes ``n_guide_steps`` steps of
    ``x <- x + scale * guide(x, t)``, with known entries re-imposed after each, before the
    model's denoising step. With ``scale_by_variance`` the gradient is first multiplied by
    the posterior variance of step ``t`` (Diffuser's ``scale_grad_by_std``): the classifier
    guidance form, in which the guide shifts the denoising mean by ``Sigma_t grad``, so a
    guide that is the gradient of a log density ratio turns one model into the other at
    ``scale = 1``. The paper's official relative-reward runs do *not* scale by the
    variance: one guide step at ``x_t`` per diffusion step, no guidance below
    ``t_stopgrad``, scale 0.2 and t_stopgrad 10 (Hopper), 0.5 and 5 (Walker2d,
    HalfCheetah); docs/method.md.

    Attributes:
        guide: the gradient field.
        scale: step size of each guidance step.
        t_stopgrad: no guidance below this diffusion step.
        n_guide_steps: guidance steps per diffusion step.
        scale_by_variance: multiply the gradient by the posterior variance of step ``t``.
    """

    guide: GuideFn
    scale: float = 0.1
    t_stopgrad: int = 0
    n_guide_steps: int = 1
    scale_by_variance: bool = False

    def __post_init__(self) -> None:
        if self.n_guide_steps < 1 or self.t_stopgrad < 0:
            raise ConfigError(
                f"GuidanceConfig needs n_guide_steps >= 1 and t_stopgrad >= 0, got "
                f"n_guide_steps={self.n_guide_steps}, t_stopgrad={self.t_stopgrad}"
            )
