"""DiffusionProcess: a DDPM's arithmetic over samples of any shape, shared by every model.

Subclasses say what a sample is (:attr:`DiffusionProcess.sample_shape`) and how the
network is called (:meth:`DiffusionProcess.network_output`); this class turns the output
into both parameterisations, the posterior ``p(x_{t-1} | x_t)`` and DDPM / DDIM sampling
with classifier guidance. :class:`~rr_gym.diffusion.GaussianDiffusion` (trajectories) and
:class:`~rr_gym.images.ImageDiffusion` (images) are the two shipped subclasses.
"""

from __future__ import annotations

import abc
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from rr_gym.diffusion.conditioning import Inpainting
from rr_gym.diffusion.guidance import GuidanceConfig
from rr_gym.diffusion.schedule import NoiseSchedule, Posterior, randn
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError

__all__ = ["DiffusionProcess", "Prediction", "SampleResult", "Sampler"]

Sampler = Literal["ddpm", "ddim"]


class Prediction(NamedTuple):
    """A denoiser's output at ``(x_t, t)``, both parameterisations, each ``(B, *sample_shape)``."""

    x0: torch.Tensor
    eps: torch.Tensor


class SampleResult(NamedTuple):
    """Output of :meth:`GaussianDiffusion.sample`.

    Attributes:
        x: final samples ``(B, H, D)`` in normalised space.
        chain: ``(S + 1, B, H, D)``: ``chain[i]`` is the input of the denoising step at
            ``timesteps[i]``; ``chain[-1]`` equals ``x``. None unless requested.
        timesteps: the ``S`` diffusion steps visited, in order (descending).
    """

    x: torch.Tensor
    chain: torch.Tensor | None
    timesteps: torch.Tensor


class DiffusionProcess(nn.Module, abc.ABC):
    """A denoising network under a noise schedule, over samples ``(B, *sample_shape)``.

    Args:
        schedule: the noise schedule (shared by any models whose outputs are compared).
        predict_epsilon: the network predicts the noise (True) or the clean sample (False).
        clip_denoised: clip predicted ``x0`` to ``[-c, c]`` while sampling; None = no clip.

    ``model_kwargs`` (keyword arguments of :meth:`estimate`, :meth:`p_mean_variance` and
    :meth:`sample`) go to the network unchanged, e.g. a conditional image model's prompt
    embeddings; each tensor in them has the batch's first dimension.
    """

    def __init__(
        self,
        schedule: NoiseSchedule,
        *,
        predict_epsilon: bool,
        clip_denoised: float | None = None,
    ) -> None:
        super().__init__()
        self.schedule = schedule
        self.predict_epsilon = bool(predict_epsilon)
        self.clip_denoised = clip_denoised

    @property
    @abc.abstractmethod
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample (trajectories ``(H, D)``, images ``(C, H, W)``)."""

    @abc.abstractmethod
    def network_output(
        self, xt: torch.Tensor, t: torch.Tensor, **model_kwargs: Any
    ) -> torch.Tensor:
        """The network's raw output at ``(x_t, t)``: noise or clean sample, ``x_t``'s shape."""

    @property
    def n_steps(self) -> int:
        """Number of diffusion steps T."""
        return self.schedule.n_steps

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device

    def check_input(self, x: torch.Tensor, what: str = "samples") -> None:
        """Refuse ``x`` that is not a finite batch ``(B, *sample_shape)``.

        Raises:
            DataError: naming the shape or the count of non-finite values.
        """
        if x.dim() != 1 + len(self.sample_shape) or tuple(x.shape[1:]) != self.sample_shape:
            shown = ", ".join(map(str, self.sample_shape))
            raise DataError(
                f"{what} have shape {tuple(x.shape)}; expected (B, {shown}) for this model"
            )
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            raise DataError(f"{what} hold {bad} NaN or infinite values; expected finite values")

    def check_compatible(self, other: DiffusionProcess) -> None:
        """Refuse ``other`` when its outputs cannot be compared with this model's point by
        point: another kind of model, schedule or sample shape.

        Raises:
            IncompatibleModelsError: naming the first difference and both values.
        """
        checks: list[tuple[str, Any, Any]] = [
            ("kind", type(self).__name__, type(other).__name__),
            ("noise schedule", self.schedule, other.schedule),
            ("sample shape", self.sample_shape, other.sample_shape),
        ]
        for what, a, b in checks:
            if a != b:
                raise IncompatibleModelsError(
                    f"base and expert diffusion models differ in {what}: base has {a!r}, "
                    f"expert has {b!r}; they must agree for their outputs to be compared"
                )

    # ------------------------------------------------------------------ model outputs
    def estimate(self, xt: torch.Tensor, t: torch.Tensor, **model_kwargs: Any) -> Prediction:
        """Estimates of ``x0`` and of the noise at ``x_t`` ``(B, *sample_shape)``, ``t``
        ``(B,)``."""
        out = self.network_output(xt, t, **model_kwargs)
        if self.predict_epsilon:
            return Prediction(self.schedule.predict_x0(xt, t, out), out)
        return Prediction(out, self.schedule.predict_eps(xt, t, out))

    def p_mean_variance(
        self,
        xt: torch.Tensor,
        t: torch.Tensor,
        prediction: Prediction | None = None,
        *,
        clip: float | None = None,
        **model_kwargs: Any,
    ) -> Posterior:
        """``p(x_{t-1} | x_t)``: the posterior ``q(x_{t-1} | x_t, x0)`` at the predicted ``x0``
        (``prediction``, when given, is this model's :meth:`estimate` at ``(xt, t)``, reused),
        with ``x0`` clipped to ``[-c, c]``, ``c`` = ``clip`` or else ``clip_denoised``."""
        x0 = self._clip_x0((prediction or self.estimate(xt, t, **model_kwargs)).x0, clip)
        return self.schedule.posterior(x0, xt, t)

    def _clip_x0(self, x0: torch.Tensor, clip: float | None) -> torch.Tensor:
        """``x0`` clipped to ``[-c, c]``, ``c`` = ``clip`` or else ``clip_denoised`` (no
        clip when both are None: then ``x0`` itself is returned)."""
        c = self.clip_denoised if clip is None else clip
        return x0 if c is None else x0.clamp(-c, c)

    def posterior_mean(
        self, xt: torch.Tensor, t: torch.Tensor, **model_kwargs: Any
    ) -> torch.Tensor:
        """Mean of ``p(x_{t-1} | x_t)``, ``(B, *sample_shape)``: what the relative reward's
        gradient bridges between a base and an expert model."""
        return self.p_mean_variance(xt, t, **model_kwargs).mean

    def condition_mask(self, device: torch.device | str | None = None) -> torch.Tensor | None:
        """Bool ``sample_shape`` mask of the entries imposed in training and sampling, or None
        when nothing is imposed (the default)."""
        return None

    def condition(self, xt: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """``xt`` with the imposed entries (:meth:`condition_mask`) taken from the clean
        ``x0`` (both ``(B, *sample_shape)``): what this model sees in training and sampling."""
        mask = self.condition_mask(xt.device)
        return xt if mask is None else torch.where(mask, x0, xt)

    # ------------------------------------------------------------------ sampling
    def timesteps(self, sampler: Sampler = "ddpm", n_steps: int | None = None) -> torch.Tensor:
        """Descending diffusion steps visited by ``sampler`` (all T for DDPM)."""
        if sampler == "ddpm":
            if n_steps not in (None, self.n_steps):
                raise ConfigError(
                    f"DDPM visits all {self.n_steps} steps, got n_steps={n_steps}; "
                    "use sampler='ddim' for fewer steps"
                )
            return torch.arange(self.n_steps - 1, -1, -1)
        if sampler != "ddim":
            raise ConfigError(f"sampler={sampler!r}; expected 'ddpm' or 'ddim'")
        n = self.n_steps if n_steps is None else int(n_steps)
        if not 1 <= n <= self.n_steps:
            raise ConfigError(f"DDIM n_steps={n_steps} must be in 1..{self.n_steps}")
        # From T - 1 (pure noise) down: linspace(0, T - 1, 1) would be [0] alone.
        steps = np.unique(np.linspace(self.n_steps - 1, 0, n).round().astype(np.int64))
        return torch.as_tensor(steps[::-1].copy())

    def _ddpm_step(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        generator: torch.Generator | None,
        clip: float | None,
        model_kwargs: dict[str, Any],
    ) -> torch.Tensor:
        post = self.p_mean_variance(x, t, clip=clip, **model_kwargs)
        if int(t[0]) == 0:
            return post.mean
        return post.mean + (0.5 * post.log_variance).exp() * randn(tuple(x.shape), x, generator)

    def _ddim_step(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        t_prev: int,
        eta: float,
        generator: torch.Generator | None,
        clip: float | None,
        model_kwargs: dict[str, Any],
    ) -> torch.Tensor:
        x0, eps = self.estimate(x, t, **model_kwargs)
        clipped = self._clip_x0(x0, clip)
        if clipped is not x0:
            x0, eps = clipped, self.schedule.predict_eps(x, t, clipped)
        ac = self.schedule.coef("alphas_cumprod", t, x)
        if t_prev < 0:
            return x0
        ac_prev = self.schedule.coef("alphas_cumprod", torch.full_like(t, t_prev), x)
        sigma = eta * ((1 - ac_prev) / (1 - ac) * (1 - ac / ac_prev)).sqrt()
        x_prev = ac_prev.sqrt() * x0 + (1 - ac_prev - sigma**2).clamp(min=0).sqrt() * eps
        if eta > 0:
            x_prev = x_prev + sigma * randn(tuple(x.shape), x, generator)
        return x_prev

    @torch.no_grad()
    def sample(
        self,
        batch_size: int,
        *,
        inpainting: Inpainting | None = None,
        guidance: GuidanceConfig | None = None,
        sampler: Sampler = "ddpm",
        n_steps: int | None = None,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        return_chain: bool = False,
        clip_denoised: float | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ) -> SampleResult:
        """Draw ``batch_size`` samples ``(B, *sample_shape)`` in the model's space.

        Args:
            batch_size: number of samples B.
            inpainting: known entries (e.g. the current state) re-imposed after each step.
            guidance: a guide and its scale; see :class:`~rr_gym.diffusion.GuidanceConfig`.
            sampler: ``"ddpm"`` (all T steps, ancestral) or ``"ddim"`` (``n_steps`` steps).
            n_steps: DDIM steps (default T).
            eta: DDIM stochasticity (0 = deterministic).
            generator: source of randomness (any device).
            return_chain: also return every intermediate sample.
            clip_denoised: clip the predicted ``x0`` to ``[-c, c]`` in this call (``None``:
                the model's own ``clip_denoised``). With a Gaussian normaliser and few
                steps, an unclipped chain can run far outside the data (tens of standard
                deviations); Diffuser's planner clips at every step.
            model_kwargs: keyword arguments of the network at every step (e.g. prompt
                embeddings ``(B, ...)``).
        """
        kwargs = dict(model_kwargs or {})
        device = self.device
        ref = torch.empty(0, device=device, dtype=next(self.parameters()).dtype)
        x = randn((batch_size, *self.sample_shape), ref, generator)
        if inpainting is not None:
            x = inpainting.apply(x)
        steps = self.timesteps(sampler, n_steps)
        chain = [] if return_chain else None
        for i, step in enumerate(steps.tolist()):
            t = torch.full((batch_size,), step, device=device, dtype=torch.long)
            if guidance is not None and step >= guidance.t_stopgrad:
                step_size: torch.Tensor | float = guidance.scale
                if guidance.scale_by_variance:
                    # clipped as in Diffuser, so that t = 0 is guided too
                    log_var = self.schedule.coef("posterior_log_variance_clipped", t, x)
                    step_size = guidance.scale * log_var.exp()
                for _ in range(guidance.n_guide_steps):
                    with torch.enable_grad():
                        grad = guidance.guide(x, t)
                    x = x + step_size * grad.detach()
                    if inpainting is not None:
                        x = inpainting.apply(x)
            if chain is not None:
                chain.append(x)
            if sampler == "ddpm":
                x = self._ddpm_step(x, t, generator, clip_denoised, kwargs)
            else:
                t_prev = int(steps[i + 1]) if i + 1 < len(steps) else -1
                x = self._ddim_step(x, t, t_prev, eta, generator, clip_denoised, kwargs)
            if inpainting is not None:
                x = inpainting.apply(x)
        if chain is not None:
            chain.append(x)
        stacked = torch.stack(chain) if chain is not None else None
        return SampleResult(x=x, chain=stacked, timesteps=steps)
