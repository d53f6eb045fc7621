"""The relative reward extracted from a base and an expert diffusion model."""

from __future__ import annotations

from typing import Any

import torch

from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards.base import Reduction, TorchRewardModel
from rr_gym.rewards.network import FoldableMLP, WindowRewardNet

__all__ = ["RelativeRewardModel"]


class RelativeRewardModel(TorchRewardModel):
    """rho(x, t): a reward whose input gradient bridges a base model to an expert model.

    Trained by :class:`~rr_gym.rewards.GradientMatchingTrainer` (usually through
    :func:`rr_gym.extract_reward`). It lives in the diffusion models' normalised space and
    records their schedule so that a planner can check it guides a compatible model.

    Args:
        layout: transition layout (the diffusion models').
        normalizer: the diffusion models' normaliser.
        window: transitions per window.
        reduction: ``"sum"`` or ``"mean"`` over windows.
        hidden_dim: width of the reward MLP.
        depth: hidden layers of the reward MLP.
        time_dim: size of the diffusion-step embedding.
        schedule: the diffusion models' schedule as a dict (recorded, not used).
        metadata: JSON-friendly facts saved with the checkpoint.

    Example:
        >>> import numpy as np
        >>> reward = RelativeRewardModel(TransitionLayout.flat(2), hidden_dim=16)
        >>> reward.predict(np.zeros((5, 2))).shape
        (5,)
    """

    def __init__(
        self,
        layout: TransitionLayout,
        normalizer: Normalizer | None = None,
        *,
        window: int = 1,
        reduction: Reduction = "sum",
        hidden_dim: int = 256,
        depth: int = 3,
        time_dim: int = 32,
        schedule: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(layout, normalizer, window=window, reduction=reduction, metadata=metadata)
        self.net = WindowRewardNet(window, layout.dim, hidden_dim, depth, time_dim)
        self.schedule = dict(schedule or {})

    @property
    def n_diffusion_steps(self) -> int | None:
        """T of the schedule the reward was trained on (None when built without one)."""
        return int(self.schedule["n_steps"]) if self.schedule else None

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(w, t)

    def foldable(self, t: int) -> FoldableMLP:
        return self.net.foldable(t)
