"""ImageReward: a time-conditioned convolutional reward ``rho(x, t)`` over images."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from rr_gym.diffusion.embeddings import SinusoidalPosEmb
from rr_gym.errors import ConfigError, DataError
from rr_gym.recorded_init import RecordedInit
from rr_gym.rewards.network import TwiceDifferentiableMish

__all__ = ["ImageReward"]


class _Block(nn.Module):
    """Conv -> GroupNorm -> + time shift -> Mish, then a stride-2 conv (halves H and W)."""

    def __init__(self, c_in: int, c_out: int, time_dim: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm = nn.GroupNorm(min(8, c_out), c_out)
        self.time = nn.Linear(time_dim, c_out)
        self.act = TwiceDifferentiableMish()
        self.down = nn.Conv2d(c_out, c_out, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.conv(x)) + self.time(emb)[:, :, None, None]
        return self.act(self.down(self.act(h)))


class ImageReward(RecordedInit, nn.Module):
    """``rho(x, t)``: the relative reward of images ``x`` at diffusion step ``t``.

    A few convolutional blocks, each shifted by an embedding of ``t`` and halving the
    resolution, then a global average and a small MLP to one number; every activation is
    twice differentiable (gradient matching differentiates ``grad_x rho``).

    Args:
        image_shape: ``(C, H, W)`` of the images it scores (the diffusion models').
        channels: output channels of each block.
        time_dim: size of the step embedding.
        n_diffusion_steps: T of the schedule whose steps it reads (for ``t`` checks).
        metadata: JSON-friendly facts saved with the checkpoint.

    Shapes:
        ``x`` ``(B, C, H, W)``, ``t`` int or ``(B,)`` -> ``(B,)``.

    Example:
        >>> reward = ImageReward((1, 8, 8), channels=(8, 16))
        >>> reward(torch.zeros(3, 1, 8, 8), 0).shape
        torch.Size([3])
        >>> reward.gradient(torch.zeros(3, 1, 8, 8), 0).shape
        torch.Size([3, 1, 8, 8])
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        *,
        channels: Sequence[int] = (32, 64),
        time_dim: int = 32,
        n_diffusion_steps: int | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        shape = tuple(int(s) for s in image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ConfigError(f"image_shape={tuple(image_shape)}; expected (C, H, W), all >= 1")
        if not channels or min(channels) < 1:
            raise ConfigError(f"channels={tuple(channels)}; expected positive block widths")
        self.image_shape = shape
        self.channels = tuple(int(c) for c in channels)
        self.time_dim = int(time_dim)
        self.n_diffusion_steps = n_diffusion_steps
        self.time_emb = nn.Sequential(
            SinusoidalPosEmb(time_dim),
            nn.Linear(time_dim, 4 * time_dim),
            TwiceDifferentiableMish(),
            nn.Linear(4 * time_dim, time_dim),
        )
        widths = (shape[0], *self.channels)
        self.blocks = nn.ModuleList(_Block(a, b, time_dim) for a, b in itertools.pairwise(widths))
        self.head = nn.Sequential(
            nn.Linear(self.channels[-1], self.channels[-1]),
            TwiceDifferentiableMish(),
            nn.Linear(self.channels[-1], 1),
        )
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.training_config: dict[str, Any] = {}

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device

    def _steps(self, t: torch.Tensor | int, batch: int, device: torch.device) -> torch.Tensor:
        t = torch.as_tensor(t, device=device)
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise DataError(
                f"diffusion steps t have shape {tuple(t.shape)}; expected an int or ({batch},)"
            )
        return t

    def forward(self, x: torch.Tensor, t: torch.Tensor | int = 0) -> torch.Tensor:
        """Reward ``(B,)`` of images ``x`` ``(B, C, H, W)`` at steps ``t`` (keeps gradients)."""
        if x.dim() != 4 or tuple(x.shape[1:]) != self.image_shape:
            c, h, w = self.image_shape
            raise DataError(f"reward input has shape {tuple(x.shape)}; expected (B, {c}, {h}, {w})")
        emb = self.time_emb(self._steps(t, x.shape[0], x.device).float())
        h = x
        for block in self.blocks:
            h = block(h, emb)
        return self.head(h.mean(dim=(2, 3))).squeeze(-1)

    def gradient(self, x: torch.Tensor, t: torch.Tensor | int = 0) -> torch.Tensor:
        """``d rho / d x`` ``(B, C, H, W)``: the guide of a diffusion sampler."""
        with torch.enable_grad():
            v = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.forward(v, t).sum(), v)
        return grad

    @torch.no_grad()
    def predict(self, images: np.ndarray, t: int = 0, batch_size: int = 1024) -> np.ndarray:
        """Rewards ``(N,)`` of images ``(N, C, H, W)`` in the models' space (``[-1, 1]``)."""
        x = np.asarray(images, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != self.image_shape or not np.isfinite(x).all():
            raise DataError(
                f"images have shape {x.shape} (finite: {bool(np.isfinite(x).all())}); "
                f"expected finite (N, {', '.join(map(str, self.image_shape))})"
            )
        out = [
            self.forward(torch.as_tensor(x[i : i + batch_size], device=self.device), t)
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(out).cpu().numpy() if out else np.zeros(0, np.float32)

    # ------------------------------------------------------------------ checkpoints
