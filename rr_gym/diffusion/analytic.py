"""An exact "diffusion model" of a Gaussian mixture: closed-form noised scores.

It stands in for a trained model wherever the truth must be known: the oracle test of
gradient matching (the extracted reward must equal the true log density ratio), and
sanity checks of samplers and planners.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from rr_gym.diffusion.denoiser import Denoiser
from rr_gym.diffusion.gaussian import GaussianDiffusion, Prediction
from rr_gym.diffusion.schedule import NoiseSchedule
from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer

__all__ = ["GaussianMixtureDiffusion"]


class _NoNetwork(Denoiser):
    """Placeholder denoiser: the analytic model needs no network, only shapes and a device."""

    def __init__(self, horizon: int, transition_dim: int) -> None:
        super().__init__()
        self.horizon, self.transition_dim = horizon, transition_dim
        self.config = {"horizon": horizon, "transition_dim": transition_dim}
        self.anchor = nn.Parameter(torch.zeros(0), requires_grad=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("GaussianMixtureDiffusion computes predictions in closed form")


class GaussianMixtureDiffusion(GaussianDiffusion):
    """The exact denoiser of data distributed as a diagonal Gaussian mixture.

    Every one of the ``horizon`` transitions of a trajectory is an independent draw from
    the mixture ``sum_k w_k N(means[k], diag(stds[k] ** 2))`` in normalised space.

    Args:
        means: component means ``(K, D)``.
        stds: component standard deviations ``(K, D)``.
        weights: mixture weights ``(K,)`` (normalised here); uniform if None.
        schedule: the noise schedule.
        horizon: transitions per trajectory.
        normalizer: optional raw-to-model-space map (identity if None).
        layout: optional transition layout.

    Example:
        >>> model = GaussianMixtureDiffusion(np.zeros((1, 2)), np.ones((1, 2)), NoiseSchedule(10))
        >>> x = torch.zeros(3, 1, 2)
        >>> model.log_prob(x).shape
        torch.Size([3])
    """

    def __init__(
        self,
        means: np.ndarray,
        stds: np.ndarray,
        schedule: NoiseSchedule,
        *,
        weights: np.ndarray | None = None,
        horizon: int = 1,
        normalizer: Normalizer | None = None,
        layout: TransitionLayout | None = None,
    ) -> None:
        means = np.atleast_2d(np.asarray(means, dtype=np.float64))
        stds = np.broadcast_to(np.asarray(stds, dtype=np.float64), means.shape).copy()
        k = means.shape[0]
        w = np.full(k, 1.0 / k) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (k,) or np.any(w <= 0) or np.any(stds <= 0):
            raise ConfigError(
                f"need {k} positive weights and positive stds; got weights shape {w.shape}"
            )
        super().__init__(
            _NoNetwork(horizon, means.shape[1]),
            schedule,
            normalizer=normalizer,
            layout=layout,
            # the exact model of unconditioned i.i.d. transitions: nothing is imposed
            condition_field=None,
            action_weight=1.0,
        )
        self.register_buffer("means", torch.as_tensor(means, dtype=torch.float32))
        self.register_buffer("stds", torch.as_tensor(stds, dtype=torch.float32))
        self.register_buffer(
            "log_weights", torch.as_tensor(np.log(w / w.sum()), dtype=torch.float32)
        )

    def _noised_log_prob_and_score(
        self, x: torch.Tensor, ac: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log density ``(B, H)`` and score ``(B, H, D)`` of the noised mixture at ``x``.

        ``ac`` is alpha-bar broadcastable to ``(B, 1, 1, 1)``.
        """
        mu = ac.sqrt() * self.means  # (B, 1, K, D) by broadcasting
        var = ac * self.stds**2 + (1 - ac)
        diff = x[:, :, None, :] - mu  # (B, H, K, D)
        comp = -0.5 * (diff**2 / var + var.log() + math.log(2 * math.pi)).sum(-1)
        joint = comp + self.log_weights  # (B, H, K)
        log_p = torch.logsumexp(joint, dim=-1)
        resp = torch.softmax(joint, dim=-1)[..., None]  # (B, H, K, 1)
        score = (resp * (-diff / var)).sum(2)
        return log_p, score

    def estimate(self, xt: torch.Tensor, t: torch.Tensor) -> Prediction:
        """Exact ``x0`` and noise predictions at ``x_t`` ``(B, H, D)``, ``t`` ``(B,)``."""
        ac = self.schedule.coef("alphas_cumprod", t, xt)[..., None]  # (B, 1, 1, 1)
        _, score = self._noised_log_prob_and_score(xt, ac)
        sigma = self.schedule.coef("sqrt_one_minus_alphas_cumprod", t, xt)
        eps = -sigma * score
        return Prediction(self.schedule.predict_x0(xt, t, eps), eps)

    def log_prob(self, x: torch.Tensor, t: int = 0) -> torch.Tensor:
        """Log density ``(B,)`` of normalised trajectories ``x`` ``(B, H, D)`` at step ``t``
        (``t = 0`` is the first noised step; use :meth:`data_log_prob` for ``x_0``)."""
        steps = torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)
        ac = self.schedule.coef("alphas_cumprod", steps, x)[..., None]
        return self._noised_log_prob_and_score(x, ac)[0].sum(1)

    def data_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log density ``(B,)`` of the clean data distribution at ``x`` ``(B, H, D)``."""
        ones = torch.ones(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)
        return self._noised_log_prob_and_score(x, ones)[0].sum(1)

    def sample_data(self, n: int, generator: np.random.Generator) -> np.ndarray:
        """``n`` exact draws of clean trajectories ``(n, H, D)`` from the mixture."""
        w = np.exp(self.log_weights.cpu().numpy().astype(np.float64))
        comp = generator.choice(len(w), size=(n, self.horizon), p=w / w.sum())
        means, stds = self.means.cpu().numpy(), self.stds.cpu().numpy()
        return (
            means[comp] + stds[comp] * generator.standard_normal((n, self.horizon, means.shape[1]))
        ).astype(np.float32)

    def checkpoint_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        raise ConfigError("GaussianMixtureDiffusion is analytic: rebuild it, do not save it")
