"""Gradient matching (Nuti et al. 2023, Algorithms 1 and 2): learn rho whose input gradient
equals the difference of an expert and a base diffusion model's denoising outputs."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from rr_gym.checkpoint import Checkpointable
from rr_gym.diffusion.conditioning import Inpainting
from rr_gym.diffusion.gaussian import GaussianDiffusion
from rr_gym.diffusion.process import DiffusionProcess, Sampler
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.normalizer import Normalizer
from rr_gym.rewards.base import TorchRewardModel
from rr_gym.trainer import TrainConfig, Trainer, tensor_digest
from rr_gym.utils.validation import check_int

__all__ = ["EvalPoint", "GradientMatchingTrainer", "MatchTarget", "NoisySource"]

EvalPoint = Literal["posterior_mean", "x_t"]
MatchTarget = Literal["posterior_mean", "score"]
NoisySource = Literal["data", "base_chain"]

AUTO_TRANSITIONS = 4  # transitions matched per window by a window-1 reward by default


def _describe(norm: Normalizer) -> str:
    shift, scale = np.round(norm.shift, 4).tolist(), np.round(norm.scale, 4).tolist()
    return f"{norm.kind!r} (shift {shift}, scale {scale})"


def _check_trajectory_reward(reward: nn.Module, base: GaussianDiffusion) -> None:
    """A trajectory reward reads the models' layout and normaliser, within their horizon."""
    if not isinstance(reward, TorchRewardModel):
        raise IncompatibleModelsError(
            f"reward is a {type(reward).__name__}; trajectory diffusion models need a "
            "TorchRewardModel (e.g. rr_gym.rewards.RelativeRewardModel of their layout)"
        )
    if reward.layout != base.layout:
        raise IncompatibleModelsError(
            f"reward has layout {reward.layout}; the diffusion models have {base.layout}: "
            "build the reward with the models' layout"
        )
    if reward.normalizer != base.normalizer:
        raise IncompatibleModelsError(
            f"reward has normalizer {_describe(reward.normalizer)}; the diffusion models "
            f"have {_describe(base.normalizer)}: build the reward with the models' normalizer"
        )
    if reward.window > base.horizon:
        raise IncompatibleModelsError(
            f"reward window={reward.window} exceeds the diffusion models' horizon {base.horizon}"
        )


def _check_conditions(
    conditions: dict[str, torch.Tensor] | None, n: int, device: torch.device
) -> dict[str, torch.Tensor]:
    """The networks' per-row keyword arguments on ``device``, each with ``n`` rows."""
    out = {}
    for name, value in (conditions or {}).items():
        if not isinstance(value, torch.Tensor) or value.dim() < 1 or len(value) != n:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise DataError(
                f"conditions[{name!r}] is {shape}; expected a tensor with one row per training "
                f"sample ({n}, ...)"
            )
        out[name] = value.to(device)
    return out


class GradientMatchingTrainer(Trainer):
    """Trains a reward ``rho(x, t)`` so that ``grad_x rho`` matches ``m_E - m_B``.

    Each step draws ``x_0`` from the data (Algorithm 1) or ``x_t`` from the base model's own
    sampling chain (Algorithm 2), computes both frozen models' outputs at ``(x_t, t)``
    without gradients, and minimises the squared error between the reward's input gradient
    and their difference, through a double backward.

    The models are any :class:`~rr_gym.diffusion.process.DiffusionProcess`: trajectory
    models (:class:`~rr_gym.diffusion.GaussianDiffusion`, with a
    :class:`~rr_gym.rewards.base.TorchRewardModel` of their layout and normaliser) or image
    models (:class:`~rr_gym.images.ImageDiffusion`, with an image reward).

    Args:
        reward: the reward to train ``rho(x, t) -> (B,)`` (for trajectory models: layout and
            normaliser must be the models').
        base: diffusion model of the base (low-reward) data.
        expert: diffusion model of the expert data; must be compatible with ``base``.
        data: samples ``(N, *sample_shape)`` in the models' space: normalised windows
            ``(N, H, D)`` or images ``(N, C, H, W)`` (x0 for Algorithm 1; the starting
            points of the base chains for Algorithm 2 with imposed entries).
        conditions: keyword arguments of both models' networks for each row of ``data``,
            each ``(N, ...)`` (e.g. prompt embeddings); a base chain (Algorithm 2) draws
            its conditions from them. None: unconditional models.
        config: loop options.
        device: where to train.
        target: ``"score"`` (default) matches the score difference
            ``-(eps_E - eps_B) / sigma_t`` with weight ``sigma_t**2``, so rho at every t is
            the noised log density ratio itself, on one scale across t; ``"posterior_mean"``
            matches ``m_E - m_B`` (the paper), whose size scales with ``beta_t`` and leaves
            small t, the reward an environment sees, with little weight. On a 2-D problem
            with a known answer the score target ranks held-out points better
            (benchmarks/RESULTS.md, "Core").
        eval_at: where the gradient is taken: ``x_t`` (default; where a planner guides) or
            the base posterior mean (the official code).
        l2: weight of an L2 penalty on rho that pins its free constant.
        source: ``"data"`` (Algorithm 1) or ``"base_chain"`` (Algorithm 2).
        chain_pool_size: trajectories per pool of base chains (Algorithm 2).
        chain_refresh: steps between refreshes of the chain pool (Algorithm 2).
        chain_sampler, chain_steps: how the base chains are sampled (Algorithm 2): DDPM over
            all T steps (default) or DDIM over ``chain_steps`` of them, as Stable Diffusion
            samples (50 of 1,000); the reward is trained at the steps the chains visit.
        transitions_per_window: match the reward's gradient at this many random
            transitions of each noised window instead of all H (``None``: all; ``"auto"``,
            the default: 4 for a window-1 reward, else all). A window-1 reward's gradient at
            one transition depends on that transition alone, so the loss is a sum of
            independent per-transition terms and this is an unbiased estimate of it from
            the same windows; the frozen models still see every window whole. The reward's
            double backward over all ``B * H`` transitions is most of a step's cost: on
            Hopper windows (H = 32) 4 transitions per window train 5.6x faster per step
            and reach the same full-window loss per step (benchmarks/RESULTS.md, "Reward
            extraction speed").
    """

    def __init__(
        self,
        reward: nn.Module,
        base: DiffusionProcess,
        expert: DiffusionProcess,
        data: torch.Tensor,
        config: TrainConfig,
        device: torch.device,
        *,
        conditions: dict[str, torch.Tensor] | None = None,
        target: MatchTarget = "score",
        eval_at: EvalPoint = "x_t",
        l2: float = 0.0,
        source: NoisySource = "data",
        chain_pool_size: int = 256,
        chain_refresh: int = 500,
        chain_sampler: Sampler = "ddpm",
        chain_steps: int | None = None,
        transitions_per_window: int | Literal["auto"] | None = "auto",
    ) -> None:
        base.check_compatible(expert)
        trajectories = isinstance(base, GaussianDiffusion)
        if trajectories:
            _check_trajectory_reward(reward, base)
        expected = tuple(base.sample_shape)
        if tuple(data.shape[1:]) != expected:
            shown = ", ".join(map(str, expected))
            raise DataError(
                f"training samples have shape {tuple(data.shape)}; expected (N, {shown}) for "
                "these diffusion models"
            )
        self.conditions = _check_conditions(conditions, len(data), device)
        for name, value, options in (
            ("target", target, ("posterior_mean", "score")),
            ("eval_at", eval_at, ("posterior_mean", "x_t")),
            ("source", source, ("data", "base_chain")),
        ):
            if value not in options:
                raise ConfigError(f"{name}={value!r}; expected one of {list(options)}")
        if not 0 <= l2 < math.inf or chain_pool_size < 1 or chain_refresh < 1:
            raise ConfigError(
                f"need finite l2 >= 0, chain_pool_size >= 1, chain_refresh >= 1; got l2={l2}, "
                f"chain_pool_size={chain_pool_size}, chain_refresh={chain_refresh}"
            )
        base.timesteps(chain_sampler, chain_steps)  # refuses a bad sampler or step count
        window = getattr(reward, "window", None)
        if transitions_per_window == "auto":
            transitions_per_window = AUTO_TRANSITIONS if trajectories and window == 1 else None
        if transitions_per_window is not None and not trajectories:
            raise ConfigError(
                f"transitions_per_window={transitions_per_window} subsamples the transitions "
                f"of trajectory windows; {type(base).__name__} samples have none: leave it None"
            )
        if transitions_per_window is not None:
            transitions_per_window = check_int(
                transitions_per_window, "transitions_per_window", minimum=1
            )
            if window != 1 and transitions_per_window < base.horizon:  # type: ignore[attr-defined]
                raise ConfigError(
                    f"transitions_per_window={transitions_per_window} needs a window-1 reward "
                    f"(this one scores windows of {window}, whose gradients overlap); "
                    "leave it None"
                )
            if transitions_per_window >= base.horizon:  # type: ignore[attr-defined]
                transitions_per_window = None  # all of them
        super().__init__(reward, data, config, device)
        self.reward = reward
        self.base = base.to(device).eval().requires_grad_(False)
        self.expert = expert.to(device).eval().requires_grad_(False)
        self.target: MatchTarget = target
        self.eval_at: EvalPoint = eval_at
        self.l2 = l2
        self.source: NoisySource = source
        self.chain_pool_size = chain_pool_size
        self.chain_refresh = chain_refresh
        self.chain_sampler: Sampler = chain_sampler
        self.chain_steps = chain_steps
        self.transitions_per_window = transitions_per_window
        mask = base.condition_mask()
        keep = torch.ones(base.sample_shape) if mask is None else (~mask).float()
        self._target_weights = keep.to(device)  # sample_shape: 0 where the models impose entries
        self._rows: torch.Tensor | None = None  # the data rows of the current batch
        self._pool: tuple[torch.Tensor, torch.Tensor] | None = None
        self._pool_conditions: dict[str, torch.Tensor] = {}
        self._pool_step = -1
        self._pool_rng: torch.Tensor | None = None  # generator state the pool was drawn from

    def _draw_pool(self, generator: torch.Generator) -> None:
        """Sample ``chain_pool_size`` base chains: ``(S, P, H, D)`` points and their steps.

        Models that impose entries (``condition_field``) sample as a planner does: from
        current states of data windows, imposed at every step."""
        inpainting = None
        mask = self.base.condition_mask(self.device)
        self._pool_conditions = {}
        if mask is not None or self.conditions:  # chains start from data rows
            rows = torch.randint(len(self.data), (self.chain_pool_size,), generator=generator)
            rows = rows.to(self.device)
            if mask is not None:
                values = self.data[rows]
                inpainting = Inpainting(mask.expand_as(values), values)
            self._pool_conditions = {k: v[rows] for k, v in self.conditions.items()}
        result = self.base.sample(
            self.chain_pool_size,
            inpainting=inpainting,
            sampler=self.chain_sampler,
            n_steps=self.chain_steps,
            generator=generator,
            return_chain=True,
            model_kwargs=self._pool_conditions,
        )
        assert result.chain is not None
        self._pool = (result.chain[:-1], result.timesteps.to(self.device))

    def sample_batch(self) -> torch.Tensor:
        """A batch of data rows drawn uniformly with replacement (their rows kept, for the
        conditions)."""
        idx = torch.randint(len(self.data), (self.config.batch_size,), generator=self.generator)
        self._rows = idx.to(self.device)
        return self.data[self._rows]

    def _noisy_batch(
        self, x0: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``(x_t, t, model_kwargs)``: noised data (Algorithm 1) or points of base sampling
        chains (2), with the networks' conditions of each."""
        batch = x0.shape[0]
        if self.source == "data":
            xt, t, _ = self.base.schedule.draw_noised(x0, self.generator)
            xt = self.base.condition(xt, x0)
            rows = self._rows
            kwargs = {k: v[rows] for k, v in self.conditions.items()} if rows is not None else {}
            return xt, t, kwargs
        stale = self._pool is None or self.step - self._pool_step >= self.chain_refresh
        if stale:
            self._pool_rng = self.generator.get_state()
            self._draw_pool(self.generator)
            self._pool_step = self.step
        chain, steps = self._pool  # type: ignore[misc]
        i = torch.randint(0, chain.shape[0], (batch,), generator=self.generator).to(self.device)
        p = torch.randint(0, chain.shape[1], (batch,), generator=self.generator).to(self.device)
        return chain[i, p], steps[i], {k: v[p] for k, v in self._pool_conditions.items()}

    def compute_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        xt, t, kwargs = self._noisy_batch(batch)
        with torch.no_grad():  # one forward of each frozen model
            base = self.base.estimate(xt, t, **kwargs)
            expert = self.expert.estimate(xt, t, **kwargs)
            if self.target == "posterior_mean" or self.eval_at == "posterior_mean":
                # imposed entries stay clean, as a planner keeps them (x_t holds them)
                m_base = self.base.condition(self.base.p_mean_variance(xt, t, base).mean, xt)
            if self.target == "posterior_mean":
                goal = self.expert.p_mean_variance(xt, t, expert).mean - m_base
                weight = torch.ones_like(t, dtype=xt.dtype)
            else:
                sigma = self.base.schedule.coef("sqrt_one_minus_alphas_cumprod", t, xt)
                goal = -(expert.eps - base.eps) / sigma
                weight = sigma.reshape(-1) ** 2
        point = m_base if self.eval_at == "posterior_mean" else xt
        # The models' outputs at imposed entries are not trained (they are overwritten):
        # no target there.
        keep = self._target_weights.expand_as(goal)
        share = 1.0
        k = self.transitions_per_window
        if k is not None and k < point.shape[1]:
            order = torch.rand(point.shape[:2], generator=self.generator).to(self.device)
            rows = order.argsort(dim=1)[:, :k, None].expand(-1, -1, point.shape[2])
            point, goal, keep = (v.gather(1, rows) for v in (point, goal, keep))
            share = k / xt.shape[1]
        point = point.detach().requires_grad_(True)
        rho = self.reward(point, t)
        (grad,) = torch.autograd.grad(rho.sum(), point, create_graph=True)
        per_sample = ((grad - goal) ** 2 * keep).flatten(1).sum(1)
        # on the scale of the full-window loss
        per_sample = per_sample / (share * self._target_weights.sum())
        match = (weight * per_sample).mean()
        loss = match + self.l2 * (rho**2).mean() if self.l2 else match
        return loss, {"match": match.detach()}

    def extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        # The pool is rebuilt on resume from the generator state it was drawn from, which
        # is a few KB where the pool itself can be hundreds of MB.
        if self._pool_rng is None:
            return {}, {}
        return {"pool_rng": self._pool_rng}, {"pool_step": self._pool_step}

    def load_extra_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        if "pool_rng" not in tensors:
            return
        self._pool_rng = tensors["pool_rng"]
        self._pool_step = int(meta["pool_step"])
        self._draw_pool(torch.Generator().set_state(self._pool_rng))

    def export(self, module: nn.Module) -> Checkpointable:
        assert isinstance(module, Checkpointable)
        return module

    def fingerprint(self) -> dict[str, Any]:
        """The base trainer's, plus the weights of the two diffusion models it matches (and
        the networks' conditions, when given)."""
        return {
            **super().fingerprint(),
            "base_sha256": tensor_digest(self.base.state_dict().values()),
            "expert_sha256": tensor_digest(self.expert.state_dict().values()),
            **(
                {"conditions_sha256": tensor_digest(self.conditions.values())}
                if self.conditions
                else {}
            ),
        }

    def options(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "eval_at": self.eval_at,
            "l2": self.l2,
            "source": self.source,
            "chain_pool_size": self.chain_pool_size,
            "chain_refresh": self.chain_refresh,
            "chain_sampler": self.chain_sampler,
            "chain_steps": self.chain_steps,
            "transitions_per_window": self.transitions_per_window,
        }
