"""Training image diffusion models and extracting the relative reward between two of them."""

from __future__ import annotations

import os
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from rr_gym.diffusion.process import DiffusionProcess, Sampler
from rr_gym.diffusion.schedule import NoiseSchedule, ScheduleKind
from rr_gym.errors import DataError
from rr_gym.images.diffusion import ImageDiffusion, build_unet
from rr_gym.images.reward import ImageReward
from rr_gym.rewards.gradient_matching import (
    EvalPoint,
    GradientMatchingTrainer,
    MatchTarget,
    NoisySource,
)
from rr_gym.trainer import TrainConfig, Trainer
from rr_gym.utils.device import resolve_device

__all__ = [
    "ImageDiffusionTrainer",
    "default_unet_config",
    "extract_image_reward",
    "train_image_diffusion",
]


def default_unet_config(image_shape: tuple[int, int, int]) -> dict[str, Any]:
    """A small ``UNet2DModel`` for ``(C, H, W)`` images with H and W divisible by 2: two
    resolutions (32 and 64 channels), one ResNet layer each, no attention."""
    c, h, w = image_shape
    if h != w or h % 2:
        raise DataError(f"images are {h}x{w}; the default UNet needs square images of even size")
    return {
        "sample_size": h,
        "in_channels": c,
        "out_channels": c,
        "layers_per_block": 1,
        "block_out_channels": [32, 64],
        "norm_num_groups": 8,
        "down_block_types": ["DownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "UpBlock2D"],
    }


def _images(images: Any, what: str) -> torch.Tensor:
    """``images`` as a float tensor ``(N, C, H, W)``; the model's ``check_input`` then
    checks its shape and pixels."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32))
    if x.dim() != 4:
        raise DataError(f"{what} have shape {tuple(x.shape)}; expected (N, C, H, W)")
    return x


class ImageDiffusionTrainer(Trainer):
    """Fits an :class:`ImageDiffusion` with its denoising loss.

    Args:
        model: the model to train.
        images: clean images ``(N, C, H, W)`` in the model's range.
        config: loop options.
        device: where to train.
    """

    def __init__(
        self, model: ImageDiffusion, images: torch.Tensor, config: TrainConfig, device: torch.device
    ) -> None:
        model.check_input(images, "training images")
        super().__init__(model, images, config, device)
        self.diffusion = model

    def compute_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self.diffusion.loss(batch, generator=self.generator), {}

    def export(self, module: nn.Module) -> ImageDiffusion:
        assert isinstance(module, ImageDiffusion)
        return module

    def options(self) -> dict[str, Any]:
        return {"predict_epsilon": self.diffusion.predict_epsilon}


def train_image_diffusion(
    images: Any,
    *,
    steps: int,
    unet: Literal["UNet2DModel", "UNet2DConditionModel"] = "UNet2DModel",
    unet_config: dict[str, Any] | None = None,
    n_diffusion_steps: int = 100,
    schedule: ScheduleKind = "linear",
    predict_epsilon: bool = True,
    clip_denoised: float | None = 1.0,
    batch_size: int = 128,
    lr: float = 1e-3,
    ema_decay: float | None = 0.995,
    seed: int = 0,
    device: str | torch.device = "auto",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
) -> ImageDiffusion:
    """Train a diffusion model of ``images`` ``(N, C, H, W)`` (pixels in ``[-1, 1]``).

    Args:
        images: the training images.
        steps: optimisation steps.
        unet, unet_config: the diffusers network and its constructor arguments (default:
            :func:`default_unet_config` of the images' shape).
        n_diffusion_steps, schedule: the noise schedule (give two models the same to extract
            a reward between them).
        predict_epsilon, clip_denoised: see :class:`ImageDiffusion`.
        batch_size, lr, ema_decay, seed, device: loop options.
        checkpoint_dir, checkpoint_every, resume: periodic checkpoints and resuming.
        progress: show a progress bar with an ETA.
        metadata: JSON-friendly facts saved with the model.

    Raises:
        DataError: images that are not a finite ``(N, C, H, W)`` batch.
    """
    x = _images(images, "training images")
    torch.manual_seed(seed)
    net = build_unet(unet, unet_config or default_unet_config(tuple(x.shape[1:])))  # type: ignore[arg-type]
    model = ImageDiffusion(
        net,
        NoiseSchedule(n_diffusion_steps, schedule),
        predict_epsilon=predict_epsilon,
        clip_denoised=clip_denoised,
        metadata=metadata,
    )
    config = TrainConfig.from_options(locals())
    trainer = ImageDiffusionTrainer(model, x, config, resolve_device(device))
    trainer.fit(resume=resume)
    return trainer.model()  # type: ignore[return-value]


def extract_image_reward(
    base: DiffusionProcess,
    expert: DiffusionProcess,
    images: Any,
    *,
    steps: int,
    conditions: dict[str, Any] | None = None,
    target: MatchTarget = "score",
    eval_at: EvalPoint = "x_t",
    source: NoisySource = "data",
    chain_sampler: Sampler = "ddpm",
    chain_steps: int | None = None,
    chain_pool_size: int = 256,
    chain_refresh: int = 500,
    channels: tuple[int, ...] = (32, 64),
    batch_size: int = 128,
    lr: float = 1e-3,
    ema_decay: float | None = 0.995,
    seed: int = 0,
    device: str | torch.device = "auto",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
) -> ImageReward:
    """The relative reward between two image diffusion models (Algorithms 1 and 2).

    Trains an :class:`ImageReward` whose input gradient matches the expert's minus the
    base's denoising output (:class:`~rr_gym.rewards.GradientMatchingTrainer`, the same
    trainer as for trajectories).

    Args:
        base, expert: two image models of one schedule and image shape: trained
            :class:`ImageDiffusion` models, or two :class:`GuidedImageDiffusion` around one
            conditional network (e.g. Stable Diffusion without and with safe-latent
            guidance).
        images: clean images ``(N, C, H, W)`` noised for training (Algorithm 1; both
            models' data, e.g. the base's), or the latents whose conditions start the base
            chains (Algorithm 2).
        steps: optimisation steps.
        conditions: the networks' keyword arguments per image, each ``(N, ...)`` (e.g.
            ``{"encoder_hidden_states": prompt_embeddings}``); None: unconditional models.
        target, eval_at, source: see :class:`~rr_gym.rewards.GradientMatchingTrainer`.
        chain_sampler, chain_steps, chain_pool_size, chain_refresh: the base chains of
            ``source="base_chain"`` (e.g. ``"ddim"`` with 50 steps, as Stable Diffusion
            samples).
        channels: the reward's block widths.
        batch_size, lr, ema_decay, seed, device: loop options.
        checkpoint_dir, checkpoint_every, resume: periodic checkpoints and resuming.
        progress: show a progress bar with an ETA.
        metadata: JSON-friendly facts saved with the reward.

    Raises:
        IncompatibleModelsError: models of different schedules, shapes or conditioning.
        DataError: images of another shape than the models', or non-finite ones.
    """
    x = _images(images, "reward training images")
    base.check_input(x, "reward training images")
    torch.manual_seed(seed)
    reward = ImageReward(
        base.sample_shape, channels=channels, n_diffusion_steps=base.n_steps, metadata=metadata
    )
    config = TrainConfig.from_options(locals())
    tensors = {k: torch.as_tensor(v) for k, v in (conditions or {}).items()}
    trainer = GradientMatchingTrainer(
        reward,
        base,
        expert,
        x,
        config,
        resolve_device(device),
        conditions=tensors or None,
        target=target,
        eval_at=eval_at,
        source=source,
        chain_sampler=chain_sampler,
        chain_steps=chain_steps,
        chain_pool_size=chain_pool_size,
        chain_refresh=chain_refresh,
    )
    trainer.fit(resume=resume)
    return trainer.model()  # type: ignore[return-value]
