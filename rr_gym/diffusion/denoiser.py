"""The denoiser interface and its registry (so checkpoints can rebuild any denoiser)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from rr_gym.errors import CheckpointError

__all__ = ["Denoiser", "build_denoiser"]

_REGISTRY: dict[str, type[Denoiser]] = {}


class Denoiser(nn.Module):
    """A network ``f(x_t, t)`` over trajectories, predicting noise or clean samples.

    Subclasses register themselves by class name and must record their constructor
    arguments in ``self.config`` so that ``build_denoiser(type(m).__name__, **m.config)``
    rebuilds an identical (untrained) network.

    Shapes:
        ``x`` ``(B, horizon, transition_dim)``, ``t`` ``(B,)`` long ->
        ``(B, horizon, transition_dim)``.
    """

    horizon: int
    transition_dim: int
    config: dict[str, Any]
    _abstract: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


def build_denoiser(name: str, **config: Any) -> Denoiser:
    """Instantiate the registered denoiser class ``name`` with ``config``.

    Raises:
        CheckpointError: ``name`` is not a registered denoiser.
    """
    try:
        cls = _REGISTRY[name]
    except KeyError:
        raise CheckpointError(
            f"unknown denoiser {name!r}; registered denoisers are {sorted(_REGISTRY)}"
        ) from None
    return cls(**config)
