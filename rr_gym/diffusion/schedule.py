"""The noise schedule shared by a base and an expert diffusion model.

A plain object with no learnable parameters: betas, the forward process ``q(x_t | x_0)`` and
the posterior ``q(x_{t-1} | x_t, x_0)``. Denoiser networks never see it. Coefficients are
computed in float64 and cached per (device, dtype) on first use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from rr_gym.errors import ConfigError

__all__ = ["NoiseSchedule", "Posterior", "ScheduleKind"]

ScheduleKind = Literal["cosine", "linear", "scaled_linear"]


class Posterior(NamedTuple):
    """Mean and variance of ``q(x_{t-1} | x_t, x_0)``, each broadcastable to ``x``."""

    mean: torch.Tensor
    variance: torch.Tensor
    log_variance: torch.Tensor


def _cosine_betas(n_steps: int, s: float = 0.008) -> np.ndarray:
    """Cosine schedule of Nichol & Dhariwal (2021), as used by Diffuser."""
    steps = n_steps + 1
    x = np.linspace(0, steps, steps)
    alphas_cumprod = np.cos(((x / steps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    betas = 1 - (alphas_cumprod[1:] / alphas_cumprod[:-1])
    return np.clip(betas, 0.0, 0.999)


def randn(
    shape: tuple[int, ...], like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Standard normal noise of ``shape`` with ``like``'s dtype, on ``like``'s device;
    ``generator`` may live on another device."""
    gen_device = generator.device if generator is not None else like.device
    noise = torch.randn(shape, generator=generator, device=gen_device, dtype=like.dtype)
    return noise.to(like.device)


class NoiseSchedule:
    """A discrete DDPM noise schedule with ``n_steps`` diffusion steps, indexed ``0..n_steps-1``.

    Args:
        n_steps: number of diffusion steps T.
        kind: ``"cosine"`` (Diffuser's default), ``"linear"`` (DDPM's) or
            ``"scaled_linear"`` (Stable Diffusion's: linear in ``sqrt(beta)``).
        beta_start: first beta of the (scaled) linear schedule.
        beta_end: last beta of the (scaled) linear schedule.

    Example:
        >>> schedule = NoiseSchedule(n_steps=20)
        >>> x0 = torch.zeros(4, 8, 3)
        >>> xt = schedule.add_noise(x0, torch.randn(4, 8, 3), torch.tensor([0, 5, 10, 19]))
        >>> xt.shape
        torch.Size([4, 8, 3])
    """

    def __init__(
        self,
        n_steps: int = 100,
        kind: ScheduleKind = "cosine",
        *,
        beta_start: float = 1e-4,
        beta_end: float = 2e-2,
    ) -> None:
        if not isinstance(n_steps, int) or n_steps < 1:
            raise ConfigError(f"n_steps={n_steps!r}; expected a positive int")
        if kind == "cosine":
            betas = _cosine_betas(n_steps)
        elif kind in ("linear", "scaled_linear"):
            if not 0 < beta_start <= beta_end < 1:
                raise ConfigError(
                    f"{kind} schedule needs 0 < beta_start <= beta_end < 1, "
                    f"got beta_start={beta_start}, beta_end={beta_end}"
                )
            if kind == "linear":
                betas = np.linspace(beta_start, beta_end, n_steps, dtype=np.float64)
            else:
                betas = np.linspace(beta_start**0.5, beta_end**0.5, n_steps, dtype=np.float64) ** 2
        else:
            raise ConfigError(
                f"schedule kind={kind!r}; expected 'cosine', 'linear' or 'scaled_linear'"
            )
        self.n_steps = n_steps
        self.kind: ScheduleKind = kind
        self.beta_start = float(beta_start)
        self.beta_end = float(beta_end)

        alphas = 1.0 - betas
        ac = np.cumprod(alphas)
        ac_prev = np.append(1.0, ac[:-1])
        post_var = betas * (1.0 - ac_prev) / (1.0 - ac)
        self._arrays: dict[str, np.ndarray] = {
            "betas": betas,
            "alphas": alphas,
            "alphas_cumprod": ac,
            "alphas_cumprod_prev": ac_prev,
            "sqrt_alphas_cumprod": np.sqrt(ac),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - ac),
            "sqrt_recip_alphas_cumprod": np.sqrt(1.0 / ac),
            "sqrt_recipm1_alphas_cumprod": np.sqrt(1.0 / ac - 1.0),
            "posterior_variance": post_var,
            # post_var[0] is 0; clip as Diffuser does so the log is finite (beta_0 if T = 1).
            "posterior_log_variance_clipped": np.log(
                np.append(post_var[1] if n_steps > 1 else betas[0], post_var[1:])
            ),
            "posterior_mean_coef1": betas * np.sqrt(ac_prev) / (1.0 - ac),
            "posterior_mean_coef2": (1.0 - ac_prev) * np.sqrt(alphas) / (1.0 - ac),
        }
        self._cache: dict[tuple[str, torch.device, torch.dtype], torch.Tensor] = {}

    # ----------------------------------------------------------------- coefficients
    def array(self, name: str) -> np.ndarray:
        """A coefficient array of shape ``(n_steps,)`` in float64 (e.g. ``"betas"``)."""
        return self._arrays[name]

    def coef(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """Coefficient ``name`` at steps ``t`` ``(B,)``, shaped ``(B, 1, ..., 1)`` to broadcast
        against ``like`` ``(B, ...)``, on ``like``'s device and dtype."""
        key = (name, like.device, like.dtype)
        table = self._cache.get(key)
        if table is None:
            table = torch.as_tensor(self._arrays[name], dtype=like.dtype, device=like.device)
            self._cache[key] = table
        return table[t].reshape(-1, *([1] * (like.dim() - 1)))

    # ----------------------------------------------------------------- forward process
    def draw_noised(
        self, x0: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x_t, t, noise)``: clean samples ``x0`` ``(B, ...)`` noised to steps ``t``
        ``(B,)`` drawn uniformly, then standard normal ``noise`` (``x0``'s shape), both from
        ``generator`` (any device); what every denoising and gradient-matching loss trains on.
        """
        gen_device = generator.device if generator is not None else x0.device
        t = torch.randint(0, self.n_steps, (x0.shape[0],), generator=generator, device=gen_device)
        t = t.to(x0.device)
        noise = randn(tuple(x0.shape), x0, generator)
        return self.add_noise(x0, noise, t), t, noise

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Sample ``x_t ~ q(x_t | x_0)``: ``sqrt(abar_t) x0 + sqrt(1 - abar_t) noise``.

        Args:
            x0: clean samples ``(B, ...)``.
            noise: standard normal noise, same shape as ``x0``.
            t: diffusion steps ``(B,)`` (long).
        """
        return (
            self.coef("sqrt_alphas_cumprod", t, x0) * x0
            + self.coef("sqrt_one_minus_alphas_cumprod", t, x0) * noise
        )

    def predict_x0(self, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """``x_0`` implied by the noise prediction ``eps`` at ``x_t`` (shapes ``(B, ...)``)."""
        return (
            self.coef("sqrt_recip_alphas_cumprod", t, xt) * xt
            - self.coef("sqrt_recipm1_alphas_cumprod", t, xt) * eps
        )

    def predict_eps(self, xt: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Noise implied by the clean prediction ``x0`` at ``x_t`` (shapes ``(B, ...)``)."""
        return (self.coef("sqrt_recip_alphas_cumprod", t, xt) * xt - x0) / self.coef(
            "sqrt_recipm1_alphas_cumprod", t, xt
        )

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> Posterior:
        """``q(x_{t-1} | x_t, x_0)`` for ``x0``, ``xt`` of shape ``(B, ...)`` and ``t`` ``(B,)``."""
        mean = (
            self.coef("posterior_mean_coef1", t, xt) * x0
            + self.coef("posterior_mean_coef2", t, xt) * xt
        )
        return Posterior(
            mean=mean,
            variance=self.coef("posterior_variance", t, xt),
            log_variance=self.coef("posterior_log_variance_clipped", t, xt),
        )

    # ----------------------------------------------------------------- config
    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form; two schedules are equal iff their dicts are."""
        return {
            "n_steps": self.n_steps,
            "kind": self.kind,
            "beta_start": self.beta_start,
            "beta_end": self.beta_end,
        }

    @classmethod
    def from_diffusers(cls, scheduler: Any) -> NoiseSchedule:
        """The schedule of a diffusers scheduler (``DDPMScheduler``, ``DDIMScheduler``...) or
        of its ``config``: ``num_train_timesteps`` steps of its ``beta_schedule``.

        Raises:
            ConfigError: a ``beta_schedule`` other than ``linear``, ``scaled_linear`` or
                ``squaredcos_cap_v2`` (cosine), or explicit ``trained_betas``.

        Example:
            >>> sd = {"num_train_timesteps": 1000, "beta_schedule": "scaled_linear",
            ...       "beta_start": 0.00085, "beta_end": 0.012}  # Stable Diffusion's
            >>> NoiseSchedule.from_diffusers(sd)
            NoiseSchedule(n_steps=1000, kind='scaled_linear', beta_start=0.00085, beta_end=0.012)
        """
        config = getattr(scheduler, "config", scheduler)
        kinds = {
            "linear": "linear",
            "scaled_linear": "scaled_linear",
            "squaredcos_cap_v2": "cosine",
        }
        name = config.get("beta_schedule", "linear")
        if config.get("trained_betas") is not None or name not in kinds:
            raise ConfigError(
                f"scheduler beta_schedule={name!r} (trained_betas given: "
                f"{config.get('trained_betas') is not None}); expected one of {sorted(kinds)} "
                "without trained_betas"
            )
        return cls(
            int(config.get("num_train_timesteps", 1000)),
            kinds[name],  # type: ignore[arg-type]
            beta_start=float(config.get("beta_start", 1e-4)),
            beta_end=float(config.get("beta_end", 2e-2)),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoiseSchedule:
        """Rebuild a schedule written by :meth:`to_dict`."""
        return cls(
            n_steps=int(data["n_steps"]),
            kind=data["kind"],
            beta_start=float(data.get("beta_start", 1e-4)),
            beta_end=float(data.get("beta_end", 2e-2)),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NoiseSchedule):
            return NotImplemented
        if self.kind != other.kind or self.n_steps != other.n_steps:
            return False
        return self.kind == "cosine" or (
            self.beta_start == other.beta_start and self.beta_end == other.beta_end
        )

    def __hash__(self) -> int:
        if self.kind == "cosine":  # consistent with __eq__: cosine ignores the linear betas
            return hash((self.kind, self.n_steps))
        return hash((self.kind, self.n_steps, self.beta_start, self.beta_end))

    def __repr__(self) -> str:
        extra = f", beta_start={self.beta_start}, beta_end={self.beta_end}"
        return (
            f"NoiseSchedule(n_steps={self.n_steps}, kind={self.kind!r}"
            + (extra if self.kind != "cosine" else "")
            + ")"
        )
