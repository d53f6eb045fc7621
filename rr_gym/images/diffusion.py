"""ImageDiffusion: a diffusers UNet under an rr_gym noise schedule, over images ``(B, C, H, W)``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from rr_gym.checkpoint import Checkpointable
from rr_gym.diffusion.process import DiffusionProcess
from rr_gym.diffusion.schedule import NoiseSchedule
from rr_gym.errors import CheckpointError, ConfigError, IncompatibleModelsError

__all__ = ["UNET_CLASSES", "ImageDiffusion", "build_unet"]

#: The diffusers networks an ImageDiffusion may hold (the conditional one takes
#: ``encoder_hidden_states``, e.g. prompt embeddings ``(B, L, cross_attention_dim)``).
UNET_CLASSES = ("UNet2DModel", "UNet2DConditionModel")


def build_unet(name: str, config: dict[str, Any]) -> nn.Module:
    """A freshly initialised diffusers ``UNet2DModel`` or ``UNet2DConditionModel`` of
    ``config`` (its constructor arguments, as in ``unet.config``).

    Raises:
        ConfigError: ``name`` is not one of :data:`UNET_CLASSES`, or diffusers is missing.
    """
    if name not in UNET_CLASSES:
        raise ConfigError(f"unet class {name!r}; expected one of {list(UNET_CLASSES)}")
    try:
        import diffusers
    except ImportError as exc:
        raise ConfigError("image models need diffusers: pip install 'rr_gym[images]'") from exc
    cls = getattr(diffusers, name)
    return cls.from_config({k: v for k, v in config.items() if not k.startswith("_")})


class ImageDiffusion(DiffusionProcess, Checkpointable):
    """A DDPM over images in ``[-1, 1]`` whose network is a diffusers UNet.

    The network is a ``UNet2DModel`` (unconditional) or a ``UNet2DConditionModel`` (which
    takes ``encoder_hidden_states=`` through ``model_kwargs``: prompt embeddings, as Stable
    Diffusion's). Its timesteps index this model's :class:`~rr_gym.diffusion.NoiseSchedule`
    (build it from a diffusers scheduler with
    :meth:`~rr_gym.diffusion.NoiseSchedule.from_diffusers`), so two models of one schedule
    can be compared point by point and a reward extracted between them.

    Args:
        unet: the diffusers network; its output has its input's shape.
        schedule: the noise schedule.
        predict_epsilon: the network predicts the noise (DDPM, Stable Diffusion; default)
            or the clean image.
        clip_denoised: clip predicted clean images to ``[-c, c]`` while sampling (1: the
            pixel range; None for latents, which have no fixed range).
        metadata: JSON-friendly facts saved with the checkpoint.

    Shapes:
        images ``(B, C, H, W)`` with ``C = unet.config.in_channels`` and ``H = W =
        unet.config.sample_size``; ``t`` ``(B,)`` long.

    Example:
        >>> from diffusers import UNet2DModel
        >>> unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1,
        ...                    block_out_channels=(8, 16), norm_num_groups=4,
        ...                    down_block_types=("DownBlock2D", "DownBlock2D"),
        ...                    up_block_types=("UpBlock2D", "UpBlock2D"), layers_per_block=1)
        >>> model = ImageDiffusion(unet, NoiseSchedule(10, "linear"))
        >>> model.loss(torch.rand(4, 1, 8, 8) * 2 - 1).shape
        torch.Size([])
        >>> model.sample(2).x.shape
        torch.Size([2, 1, 8, 8])
    """

    def __init__(
        self,
        unet: nn.Module,
        schedule: NoiseSchedule,
        *,
        predict_epsilon: bool = True,
        clip_denoised: float | None = 1.0,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        name = type(unet).__name__
        if name not in UNET_CLASSES:
            raise ConfigError(f"unet is a {name}; expected a diffusers {' or '.join(UNET_CLASSES)}")
        super().__init__(schedule, predict_epsilon=predict_epsilon, clip_denoised=clip_denoised)
        self.unet = unet
        config = unet.config
        size = config.sample_size
        if isinstance(size, list | tuple):
            size = tuple(int(s) for s in size)
        else:
            size = (int(size), int(size))
        self._shape = (int(config.in_channels), *size)
        if int(config.out_channels) != self._shape[0]:
            raise ConfigError(
                f"unet has in_channels={config.in_channels} but out_channels="
                f"{config.out_channels}; a denoiser's output has its input's shape"
            )
        self.conditional = name == "UNet2DConditionModel"
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.training_config: dict[str, Any] = {}

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)``."""
        return self._shape  # type: ignore[return-value]

    def network_output(
        self, xt: torch.Tensor, t: torch.Tensor, **model_kwargs: Any
    ) -> torch.Tensor:
        """The UNet's output at images ``x_t`` ``(B, C, H, W)``; a conditional UNet needs
        ``encoder_hidden_states`` ``(B, L, E)``."""
        if self.conditional and model_kwargs.get("encoder_hidden_states") is None:
            raise ConfigError(
                "this ImageDiffusion's UNet2DConditionModel needs encoder_hidden_states= "
                "(prompt embeddings (B, L, cross_attention_dim)) in model_kwargs"
            )
        return self.unet(xt, t, **model_kwargs).sample

    def loss(
        self,
        x0: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
        **model_kwargs: Any,
    ) -> torch.Tensor:
        """Mean squared error of the noise (``predict_epsilon``) or of the clean image, for
        clean images ``x0`` ``(B, C, H, W)`` at steps drawn uniformly; a scalar."""
        self.check_input(x0, "images")
        xt, t, noise = self.schedule.draw_noised(x0, generator)
        out = self.network_output(xt, t, **model_kwargs)
        return torch.mean((out - (noise if self.predict_epsilon else x0)) ** 2)

    def check_compatible(self, other: DiffusionProcess) -> None:
        """As :meth:`DiffusionProcess.check_compatible`, and both conditional or neither.

        Raises:
            IncompatibleModelsError: naming the first difference and both values.
        """
        super().check_compatible(other)
        if self.conditional != getattr(other, "conditional", False):
            raise IncompatibleModelsError(
                f"base and expert differ in conditioning: base conditional={self.conditional}, "
                f"expert conditional={getattr(other, 'conditional', False)}"
            )

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Weights and config; see :class:`~rr_gym.checkpoint.Checkpointable`."""
        config = {
            "unet": type(self.unet).__name__,
            "unet_config": {
                k: v for k, v in dict(self.unet.config).items() if not k.startswith("_")
            },
            "schedule": self.schedule.to_dict(),
            "predict_epsilon": self.predict_epsilon,
            "clip_denoised": self.clip_denoised,
            "metadata": self.metadata,
            "training": self.training_config,
        }
        return dict(self.unet.state_dict()), config

    @classmethod
    def from_checkpoint_state(
        cls, tensors: dict[str, torch.Tensor], config: dict[str, Any]
    ) -> ImageDiffusion:
        """Rebuild from :meth:`checkpoint_state`."""
        unet = build_unet(config["unet"], config["unet_config"])
        try:
            unet.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"weights do not fit {config['unet']}: {exc}") from exc
        model = cls(
            unet,
            NoiseSchedule.from_dict(config["schedule"]),
            predict_epsilon=bool(config["predict_epsilon"]),
            clip_denoised=config.get("clip_denoised"),
            metadata=config.get("metadata") or {},
        )
        model.training_config = config.get("training") or {}
        return model
