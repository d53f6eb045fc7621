"""GaussianDiffusion: a denoiser plus a noise schedule, in the normalised space of its data."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rr_gym.checkpoint import Checkpointable
from rr_gym.diffusion.denoiser import Denoiser, build_denoiser
from rr_gym.diffusion.process import (
    DiffusionProcess,
    Prediction,
    Sampler,
    SampleResult,
)
from rr_gym.diffusion.schedule import NoiseSchedule
from rr_gym.errors import CheckpointError, ConfigError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.utils.validation import check_number

# Prediction, SampleResult and Sampler live in rr_gym.diffusion.process; re-exported here.
__all__ = ["GaussianDiffusion", "Prediction", "SampleResult", "Sampler", "check_compatible"]


class GaussianDiffusion(DiffusionProcess, Checkpointable):
    """A DDPM over trajectories ``(B, horizon, transition_dim)`` in normalised space.

    The defaults follow Diffuser (Janner et al. 2022) for trajectories (horizon > 1): the
    network predicts the clean trajectory, the current state (the layout's
    ``"observation"`` at step 0) is imposed on ``x_t`` and on the reconstruction in the
    training loss (Diffuser's ``apply_conditioning`` in ``p_losses``), so the model learns
    to plan from a clean current state among noisy entries, and the first action's
    dimensions weigh 10 in the loss. For points and single transitions (horizon 1) the
    network predicts the noise, nothing is imposed and every entry weighs 1. Every choice
    can be set explicitly; docs/method.md gives the measured reasons.

    Args:
        model: the denoiser network.
        schedule: the noise schedule (shared by any models whose outputs are compared).
        predict_epsilon: the network predicts the noise (True) or the clean sample (False);
            None: clean samples for horizon > 1, noise for horizon 1.
        clip_denoised: clip predicted ``x0`` to ``[-c, c]`` while sampling; None = no clip.
        normalizer: maps raw transitions to the model's space (identity if None).
        layout: names the transition's fields (one flat field if None).
        condition_field: the layout field known at step 0 of every window (imposed in
            training and, by a planner, in sampling); ``"auto"``: ``"observation"`` when
            horizon > 1 and the layout has it, else None (nothing imposed).
        action_weight: loss weight of the step-0 ``"action"`` field (the executed action);
            None: 10 when horizon > 1 and the layout has an action, else 1.
        metadata: JSON-friendly facts saved with the checkpoint (dataset id, spaces, ...).

    Example:
        >>> from rr_gym.diffusion import MLPDenoiser, NoiseSchedule
        >>> diffusion = GaussianDiffusion(MLPDenoiser(1, 2, hidden_dim=16), NoiseSchedule(10))
        >>> diffusion.loss(torch.randn(8, 1, 2)).shape
        torch.Size([])
        >>> diffusion.sample(4, sampler="ddim", n_steps=5).x.shape
        torch.Size([4, 1, 2])
    """

    def __init__(
        self,
        model: Denoiser,
        schedule: NoiseSchedule,
        *,
        predict_epsilon: bool | None = None,
        clip_denoised: float | None = None,
        normalizer: Normalizer | None = None,
        layout: TransitionLayout | None = None,
        condition_field: str | None = "auto",
        action_weight: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        trajectories = model.horizon > 1
        super().__init__(
            schedule,
            predict_epsilon=not trajectories if predict_epsilon is None else predict_epsilon,
            clip_denoised=clip_denoised,
        )
        self.model = model
        dim = model.transition_dim
        self.normalizer = normalizer if normalizer is not None else Normalizer.identity(dim)
        self.layout = layout if layout is not None else TransitionLayout.flat(dim)
        if self.normalizer.dim != dim or self.layout.dim != dim:
            raise ConfigError(
                f"denoiser transition_dim={dim} but normalizer dim={self.normalizer.dim} and "
                f"layout dim={self.layout.dim} ({self.layout}); they must agree"
            )
        if condition_field == "auto":
            has_state = trajectories and "observation" in self.layout
            condition_field = "observation" if has_state else None
        if condition_field is not None and condition_field not in self.layout:
            raise ConfigError(
                f"condition_field={condition_field!r} is not a field of the layout {self.layout}; "
                "expected one of its fields, 'auto' or None"
            )
        self.condition_field = condition_field
        if action_weight is None:
            action_weight = 10.0 if trajectories and "action" in self.layout else 1.0
        self.action_weight = check_number(action_weight, "action_weight", positive=True)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.training_config: dict[str, Any] = {}

    def condition_mask(self, device: torch.device | str | None = None) -> torch.Tensor | None:
        """Bool ``(H, D)`` on ``device`` (CPU if None): the entries imposed in training
        (``condition_field`` at step 0), or None when nothing is imposed."""
        if self.condition_field is None:
            return None
        mask = torch.zeros(self.horizon, self.transition_dim, dtype=torch.bool, device=device)
        mask[0, self.layout.slice(self.condition_field)] = True
        return mask

    def loss_weights(self, device: torch.device | str | None = None) -> torch.Tensor:
        """``(H, D)`` weights of the squared errors, on ``device`` (CPU if None):
        ``action_weight`` on the step-0 action (Diffuser's ``loss_weights[0, :action_dim]``),
        1 elsewhere, and 0 on the imposed entries of a noise-predicting model (their noise is
        not in ``x_t``)."""
        weights = torch.ones(self.horizon, self.transition_dim, device=device)
        if "action" in self.layout:
            weights[0, self.layout.slice("action")] = self.action_weight
        mask = self.condition_mask(device)
        if mask is not None and self.predict_epsilon:
            weights[mask] = 0.0
        return weights

    @property
    def horizon(self) -> int:
        """Trajectory length H."""
        return self.model.horizon

    @property
    def transition_dim(self) -> int:
        """Transition size D."""
        return self.model.transition_dim

    @property
    def sample_shape(self) -> tuple[int, int]:
        """``(horizon, transition_dim)``."""
        return (self.horizon, self.transition_dim)

    def check_compatible(self, other: DiffusionProcess) -> None:
        """:func:`check_compatible` of this model (base) and ``other`` (expert)."""
        check_compatible(self, other)  # type: ignore[arg-type]

    def network_output(
        self, xt: torch.Tensor, t: torch.Tensor, **model_kwargs: Any
    ) -> torch.Tensor:
        """The denoiser's output at trajectories ``x_t`` ``(B, H, D)``."""
        return self.model(xt, t, **model_kwargs)

    # ------------------------------------------------------------------ model outputs
    # ------------------------------------------------------------------ training
    def loss(
        self,
        x0: torch.Tensor,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Weighted denoising loss for clean samples ``x0`` ``(B, H, D)``, steps drawn
        uniformly: the mean over entries of :meth:`loss_weights` times the squared error
        of the noise (``predict_epsilon``) or of the reconstruction, with the imposed
        entries (:meth:`condition`) clean in ``x_t`` and in the reconstruction. Returns a
        scalar."""
        self.check_input(x0, "trajectories")
        xt, t, noise = self.schedule.draw_noised(x0, generator)
        xt = self.condition(xt, x0)
        out = self.model(xt, t)
        error = out - noise if self.predict_epsilon else self.condition(out, x0) - x0
        return torch.mean(error**2 * self.loss_weights(x0.device))

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Weights and config; see :class:`~rr_gym.checkpoint.Checkpointable`."""
        config = {
            "denoiser": type(self.model).__name__,
            "denoiser_config": self.model.config,
            "schedule": self.schedule.to_dict(),
            "predict_epsilon": self.predict_epsilon,
            "clip_denoised": self.clip_denoised,
            "condition_field": self.condition_field,
            "action_weight": self.action_weight,
            "normalizer": self.normalizer.to_dict(),
            "layout": self.layout.to_dict(),
            "metadata": self.metadata,
            "training": self.training_config,
        }
        return dict(self.model.state_dict()), config

    @classmethod
    def from_checkpoint_state(
        cls, tensors: dict[str, torch.Tensor], config: dict[str, Any]
    ) -> GaussianDiffusion:
        """Rebuild from :meth:`checkpoint_state`."""
        model = build_denoiser(config["denoiser"], **config["denoiser_config"])
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"weights do not fit {config['denoiser']}: {exc}") from exc
        diffusion = cls(
            model,
            NoiseSchedule.from_dict(config["schedule"]),
            predict_epsilon=bool(config["predict_epsilon"]),
            clip_denoised=config.get("clip_denoised"),
            normalizer=Normalizer.from_dict(config["normalizer"]),
            layout=TransitionLayout.from_dict(config["layout"]),
            # checkpoints written before these options trained unconditioned, unweighted
            condition_field=config.get("condition_field"),
            action_weight=config.get("action_weight", 1.0),
            metadata=config.get("metadata") or {},
        )
        diffusion.training_config = config.get("training") or {}
        return diffusion


def check_compatible(base: GaussianDiffusion, expert: GaussianDiffusion) -> None:
    """Refuse two diffusion models whose outputs cannot be compared point by point.

    They must share the noise schedule, horizon, transition layout, normaliser and the
    entries they impose (``condition_field``).

    Raises:
        IncompatibleModelsError: naming the first difference and both values.
        ConfigError: ``base`` or ``expert`` is not a :class:`GaussianDiffusion`.
    """
    for name, value in (("base", base), ("expert", expert)):
        if not isinstance(value, GaussianDiffusion):
            raise ConfigError(
                f"{name} is a {type(value).__name__} ({value!r:.60}); expected a "
                "GaussianDiffusion: train one with rr_gym.train_diffusion or load a saved one "
                "with rr_gym.load(path)"
            )
    checks: list[tuple[str, Any, Any]] = [
        ("noise schedule", base.schedule, expert.schedule),
        ("horizon", base.horizon, expert.horizon),
        ("transition layout", base.layout, expert.layout),
        ("normalizer", base.normalizer, expert.normalizer),
        ("condition_field", base.condition_field, expert.condition_field),
    ]
    for what, a, b in checks:
        if a != b:
            detail = ""
            if what == "normalizer":
                detail = (
                    f" (shift {np.round(a.shift, 4).tolist()} vs {np.round(b.shift, 4).tolist()}, "
                    f"scale {np.round(a.scale, 4).tolist()} vs {np.round(b.scale, 4).tolist()})"
                    if a.kind == b.kind
                    else ""
                )
            raise IncompatibleModelsError(
                f"base and expert diffusion models differ in {what}: base has {a!r}, expert has "
                f"{b!r}{detail}. Train both with the same {what} (for the normalizer: fit one "
                "normalizer on the union of both datasets and pass it to train_diffusion)"
            )
