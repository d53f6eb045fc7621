"""Prompt guidance of one conditional image model: classifier-free and safe-latent guidance.

Stable Diffusion samples with classifier-free guidance (Ho & Salimans 2022); Safe Latent
Diffusion (Schramowski et al. 2023) is the same network with a second guidance term that
pushes the noise prediction away from a safety concept ("hate, harassment, violence, ...").
In the paper's image experiment the base model is the first and the expert the second: the
expert is a function of the base network at inference, not a second network.
:class:`GuidedImageDiffusion` is that function as a
:class:`~rr_gym.diffusion.process.DiffusionProcess`, so
:func:`~rr_gym.images.extract_image_reward` trains a relative reward between the two
exactly as between two trained models.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from rr_gym.diffusion.process import DiffusionProcess
from rr_gym.errors import ConfigError, DataError

__all__ = ["GuidedImageDiffusion", "SafetyGuidance"]


def _embeddings(value: Any, what: str) -> torch.Tensor:
    """``value`` as one prompt's embeddings ``(1, L, E)`` (from ``(L, E)`` or ``(1, L, E)``)."""
    x = torch.as_tensor(value, dtype=torch.float32)
    if x.dim() == 2:
        x = x[None]
    if x.dim() != 3 or x.shape[0] != 1:
        raise DataError(
            f"{what} have shape {tuple(x.shape)}; expected one prompt's embeddings (L, E) or "
            "(1, L, E)"
        )
    if not torch.isfinite(x).all():
        raise DataError(f"{what} hold NaN or infinite values")
    return x


@dataclass(frozen=True, eq=False)  # compared by identity: it holds a tensor
class SafetyGuidance:
    """Safe-latent guidance (Schramowski et al. 2023, equations 4-6): away from a concept.

    At each point the guided noise is ``eps_u + s_g (eps_p - eps_u - gamma)`` with
    ``gamma = mu * (eps_S - eps_u)``, ``mu = min(1, scale * |eps_p - eps_S|)`` where
    ``eps_p - eps_S < threshold`` and 0 elsewhere (``eps_u``, ``eps_p``, ``eps_S``: the
    network's noise for the empty prompt, the prompt and the safety concept).

    SLD's momentum (equations 7-8) carries a running sum along one sampling chain, so a
    model with it is not a function of ``(x_t, t)``, which a relative reward needs:
    :meth:`from_safety_config` ignores it, with a warning.

    Args:
        concept: the safety concept's prompt embeddings ``(L, E)`` or ``(1, L, E)``.
        scale: ``s_S`` (SLD's ``sld_guidance_scale``).
        threshold: ``lambda`` (``sld_threshold``).
        start_t: safety guidance applies at diffusion steps ``t <= start_t`` (SLD's warmup
            in steps of the schedule); None: at every step.
    """

    concept: torch.Tensor
    scale: float = 5000.0
    threshold: float = 1.0
    start_t: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "concept", _embeddings(self.concept, "safety concept embeddings"))
        if not (math.isfinite(self.scale) and self.scale >= 0 and math.isfinite(self.threshold)):
            raise ConfigError(
                f"safety guidance scale={self.scale}, threshold={self.threshold}; expected a "
                "finite scale >= 0 and a finite threshold"
            )
        if self.start_t is not None and self.start_t < 0:
            raise ConfigError(f"start_t={self.start_t}; expected a diffusion step >= 0 or None")

    @classmethod
    def from_safety_config(
        cls,
        concept: Any,
        config: Mapping[str, float],
        *,
        timesteps: torch.Tensor | None = None,
    ) -> SafetyGuidance:
        """From diffusers' ``SafetyConfig`` keys (``sld_guidance_scale``, ``sld_threshold``,
        ``sld_warmup_steps``, ``sld_momentum_scale``), e.g. ``SafetyConfig.MAX``.

        Args:
            concept: the safety concept's embeddings.
            config: the SLD settings.
            timesteps: the descending steps the sampler visits (e.g. the scheduler's
                ``timesteps`` for 50 inference steps), to turn the warmup, counted in
                sampling iterations, into :attr:`start_t`; None with a warmup of 0.

        Example:
            >>> cfg = {"sld_guidance_scale": 5000, "sld_threshold": 1.0, "sld_warmup_steps": 1}
            >>> g = SafetyGuidance.from_safety_config(torch.zeros(2, 3), cfg,
            ...                                       timesteps=torch.tensor([9, 5, 1]))
            >>> g.start_t, g.scale
            (5, 5000.0)
        """
        known = {
            "sld_guidance_scale",
            "sld_threshold",
            "sld_warmup_steps",
            "sld_momentum_scale",
            "sld_mom_beta",
        }
        unknown = sorted(set(config) - known)
        if unknown:
            raise ConfigError(f"unknown safety config keys {unknown}; known: {sorted(known)}")
        if float(config.get("sld_momentum_scale", 0.0)):
            warnings.warn(
                f"sld_momentum_scale={config['sld_momentum_scale']} ignored: momentum makes the "
                "guided model depend on the chain's history, and a relative reward needs a "
                "function of (x_t, t)",
                stacklevel=2,
            )
        warmup = int(config.get("sld_warmup_steps", 0))
        start_t = None
        if warmup > 0:
            if timesteps is None or len(timesteps) <= warmup:
                raise ConfigError(
                    f"sld_warmup_steps={warmup} needs the sampler's timesteps (more than "
                    f"{warmup}) to place the warmup; got "
                    f"{None if timesteps is None else len(timesteps)}"
                )
            start_t = int(timesteps[warmup])
        return cls(
            concept,
            scale=float(config.get("sld_guidance_scale", 5000.0)),
            threshold=float(config.get("sld_threshold", 1.0)),
            start_t=start_t,
        )


class GuidedImageDiffusion(DiffusionProcess):
    """A conditional :class:`ImageDiffusion` under classifier-free guidance, optionally with
    :class:`SafetyGuidance`: Stable Diffusion's sampler as a model of ``(x_t, t)``.

    Its noise prediction is ``eps_u + guidance_scale * (eps_p - eps_u [- gamma])`` from the
    wrapped network's predictions for the empty prompt (``negative``), the prompt
    (``encoder_hidden_states=`` of each call) and, with safety, the concept; one batched
    network call per prediction. Base and expert of the paper's experiment are two of these
    around one network, the expert with safety.

    Args:
        model: a conditional model that predicts the noise (an :class:`ImageDiffusion` of a
            ``UNet2DConditionModel``, e.g. from :func:`~rr_gym.images.load_pretrained`).
        negative: the empty (or negative) prompt's embeddings ``(L, E)`` or ``(1, L, E)``.
        guidance_scale: classifier-free guidance scale ``s_g`` (Stable Diffusion: 7.5).
        safety: safe-latent guidance; None: classifier-free guidance alone.

    Shapes:
        ``x_t`` ``(B, C, H, W)``, ``t`` ``(B,)``, ``encoder_hidden_states`` ``(B, L, E)``.

    Example:
        >>> from diffusers import UNet2DConditionModel
        >>> from rr_gym.diffusion import NoiseSchedule
        >>> from rr_gym.images import ImageDiffusion
        >>> unet = UNet2DConditionModel(
        ...     sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        ...     block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=6,
        ...     attention_head_dim=2, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        ...     up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"))
        >>> sd = ImageDiffusion(unet, NoiseSchedule(10, "scaled_linear"), clip_denoised=None)
        >>> base = GuidedImageDiffusion(sd, torch.zeros(3, 6))
        >>> expert = GuidedImageDiffusion(sd, torch.zeros(3, 6),
        ...                               safety=SafetyGuidance(torch.ones(3, 6)))
        >>> x, t, prompts = torch.randn(2, 4, 8, 8), torch.tensor([9, 3]), torch.randn(2, 3, 6)
        >>> expert.estimate(x, t, encoder_hidden_states=prompts).eps.shape
        torch.Size([2, 4, 8, 8])
    """

    def __init__(
        self,
        model: DiffusionProcess,
        negative: Any,
        *,
        guidance_scale: float = 7.5,
        safety: SafetyGuidance | None = None,
    ) -> None:
        if not getattr(model, "conditional", False):
            raise ConfigError(
                f"model is a {type(model).__name__} without conditioning; prompt guidance "
                "needs a conditional model (an ImageDiffusion of a UNet2DConditionModel)"
            )
        if not model.predict_epsilon:
            raise ConfigError(
                "model predicts clean images (predict_epsilon=False); classifier-free guidance "
                "mixes noise predictions: use a model with predict_epsilon=True"
            )
        if not math.isfinite(guidance_scale):
            raise ConfigError(f"guidance_scale={guidance_scale}; expected a finite number")
        super().__init__(model.schedule, predict_epsilon=True, clip_denoised=model.clip_denoised)
        self.model = model
        self.guidance_scale = float(guidance_scale)
        self.safety = safety
        self.conditional = True
        self.register_buffer("negative", _embeddings(negative, "negative prompt embeddings"))
        if safety is not None:
            if safety.concept.shape[-1] != self.negative.shape[-1]:
                raise DataError(
                    f"safety concept embeddings have size {safety.concept.shape[-1]}; the "
                    f"negative prompt's have {self.negative.shape[-1]}: embed both with the "
                    "model's text encoder"
                )
            self.register_buffer("concept", safety.concept.clone())

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """``(C, H, W)`` of the wrapped model."""
        return tuple(self.model.sample_shape)

    def network_output(
        self, xt: torch.Tensor, t: torch.Tensor, **model_kwargs: Any
    ) -> torch.Tensor:
        """The guided noise at ``x_t`` ``(B, C, H, W)`` for prompts
        ``encoder_hidden_states`` ``(B, L, E)``."""
        prompts = model_kwargs.pop("encoder_hidden_states", None)
        if prompts is None:
            raise ConfigError(
                "GuidedImageDiffusion needs encoder_hidden_states= (prompt embeddings "
                "(B, L, E)) in model_kwargs"
            )
        b = xt.shape[0]
        if prompts.dim() != 3 or prompts.shape[0] != b:
            raise DataError(
                f"encoder_hidden_states have shape {tuple(prompts.shape)}; expected ({b}, L, E), "
                "one prompt per sample"
            )
        extra = [self.negative.expand(b, *self.negative.shape[1:]).to(prompts)]
        if self.safety is not None:
            extra.append(self.concept.expand(b, *self.concept.shape[1:]).to(prompts))
        length = max(e.shape[1] for e in [prompts, *extra])
        if any(e.shape[1] != length for e in [prompts, *extra]):
            raise DataError(
                "prompt, negative and safety embeddings differ in length "
                f"({[e.shape[1] for e in [prompts, *extra]]}); pad every prompt to one length "
                "(the tokenizer's max_length)"
            )
        k = len(extra) + 1
        out = self.model.network_output(
            xt.repeat(k, 1, 1, 1), t.repeat(k), encoder_hidden_states=torch.cat([prompts, *extra])
        )
        eps_p, eps_u = out[:b], out[b : 2 * b]
        direction = eps_p - eps_u
        if self.safety is not None:
            eps_s = out[2 * b :]
            gap = eps_p - eps_s
            mu = torch.where(
                gap < self.safety.threshold,
                (self.safety.scale * gap.abs()).clamp(max=1.0),
                torch.zeros_like(gap),
            )
            gamma = mu * (eps_s - eps_u)
            if self.safety.start_t is not None:
                on = (t <= self.safety.start_t).to(gamma.dtype).reshape(-1, 1, 1, 1)
                gamma = gamma * on
            direction = direction - gamma
        return eps_u + self.guidance_scale * direction
