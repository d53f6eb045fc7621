"""Training a GaussianDiffusion on normalised trajectory windows."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rr_gym.diffusion.gaussian import GaussianDiffusion
from rr_gym.errors import DataError
from rr_gym.trainer import TrainConfig, Trainer

__all__ = ["DiffusionTrainer"]


class DiffusionTrainer(Trainer):
    """Fits a :class:`GaussianDiffusion` with the denoising loss.

    Args:
        diffusion: the model to train (its normaliser must already be set).
        data: normalised windows ``(N, H, D)`` matching the model's horizon and layout.
        config: loop options (steps, batch size, lr, EMA, checkpoints, seed).
        device: where to train.

    Example:
        >>> from rr_gym.diffusion import MLPDenoiser, NoiseSchedule
        >>> diffusion = GaussianDiffusion(MLPDenoiser(1, 2, hidden_dim=16), NoiseSchedule(10))
        >>> trainer = DiffusionTrainer(diffusion, torch.randn(64, 1, 2),
        ...                            TrainConfig(steps=5, batch_size=8, progress=False),
        ...                            torch.device("cpu"))
        >>> trainer.fit().steps
        5
    """

    def __init__(
        self,
        diffusion: GaussianDiffusion,
        data: torch.Tensor,
        config: TrainConfig,
        device: torch.device,
    ) -> None:
        expected = (diffusion.horizon, diffusion.transition_dim)
        if data.dim() != 3 or tuple(data.shape[1:]) != expected:
            raise DataError(
                f"training windows have shape {tuple(data.shape)}; expected (N, {expected[0]}, "
                f"{expected[1]}) for this diffusion model"
            )
        super().__init__(diffusion, data, config, device)
        self.diffusion = diffusion

    def compute_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.diffusion.loss(batch, generator=self.generator), {}

    def export(self, module: nn.Module) -> GaussianDiffusion:
        assert isinstance(module, GaussianDiffusion)
        return module

    def options(self) -> dict[str, Any]:
        return {
            "predict_epsilon": self.diffusion.predict_epsilon,
            "condition_field": self.diffusion.condition_field,
            "action_weight": self.diffusion.action_weight,
        }
