"""The quick-start API: ``train_diffusion``, ``extract_reward`` and ``load``.

These take plain arrays (or a :class:`rr_gym.data.WindowDataset`) and return trained
models; everything is reachable with more control through the classes they use.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any, Literal

import torch

from rr_gym.checkpoint import load as _load_checkpoint
from rr_gym.data.windows import as_windows
from rr_gym.diffusion.denoiser import Denoiser
from rr_gym.diffusion.gaussian import GaussianDiffusion, check_compatible
from rr_gym.diffusion.mlp import MLPDenoiser
from rr_gym.diffusion.schedule import NoiseSchedule, ScheduleKind
from rr_gym.diffusion.training import DiffusionTrainer
from rr_gym.diffusion.unet import TemporalUnet
from rr_gym.errors import ConfigError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer, NormalizerKind
from rr_gym.rewards.base import Reduction
from rr_gym.rewards.gradient_matching import (
    EvalPoint,
    GradientMatchingTrainer,
    MatchTarget,
    NoisySource,
)
from rr_gym.rewards.relative import RelativeRewardModel
from rr_gym.trainer import TrainConfig
from rr_gym.utils.device import resolve_device
from rr_gym.utils.seeding import seeded
from rr_gym.utils.validation import check_int

__all__ = ["extract_reward", "load", "train_diffusion"]


def _check_steps(steps: Any) -> int:
    """``steps`` as a positive int: zero steps would return an untrained model."""
    return check_int(
        steps, "steps", minimum=1, hint=" (optimisation steps; 0 would return an untrained model)"
    )


def _make_denoiser(
    kind: str, horizon: int, dim: int, network: Mapping[str, Any] | None
) -> Denoiser:
    if kind == "auto":
        kind = "mlp" if horizon == 1 else "unet"
    classes: dict[str, type[Denoiser]] = {"mlp": MLPDenoiser, "unet": TemporalUnet}
    if kind not in classes:
        raise ConfigError(f"denoiser={kind!r}; expected 'auto', 'mlp' or 'unet'")
    cls, options = classes[kind], dict(network or {})
    known = [p for p in inspect.signature(cls).parameters if p not in ("horizon", "transition_dim")]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(
            f"network has unknown option(s) {unknown} for {cls.__name__}; known: {known}"
        )
    return cls(horizon, dim, **options)


def train_diffusion(
    data: Any,
    *,
    horizon: int,
    steps: int,
    seed: int = 0,
    device: str | torch.device = "auto",
    denoiser: Literal["auto", "mlp", "unet"] = "auto",
    network: Mapping[str, Any] | None = None,
    n_diffusion_steps: int = 100,
    schedule: ScheduleKind = "cosine",
    predict_epsilon: bool | None = None,
    clip_denoised: float | None = None,
    condition_field: str | None = "auto",
    action_weight: float | None = None,
    normalizer: Normalizer | NormalizerKind = "gaussian",
    layout: TransitionLayout | None = None,
    batch_size: int = 64,
    lr: float = 2e-4,
    ema_decay: float | None = 0.995,
    grad_clip: float | None = 1.0,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
) -> GaussianDiffusion:
    """Train a diffusion model of trajectory windows.

    Args:
        data: raw windows ``(N, horizon, D)``, points/one trajectory ``(N, D)``, or a
            ``WindowDataset``.
        horizon: trajectory length H of the model.
        steps: optimisation steps.
        seed: seeds the network initialisation and the training randomness.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        denoiser: ``"mlp"``, ``"unet"``, or ``"auto"`` (MLP for horizon 1, else U-Net).
        network: keyword sizes for the denoiser (e.g. ``{"dim": 32, "dim_mults": [1, 2, 4]}``).
        n_diffusion_steps: diffusion steps T.
        schedule: ``"cosine"`` or ``"linear"``.
        predict_epsilon: predict noise (True) or clean samples (False); None: clean
            samples for horizon > 1 (Diffuser), noise for horizon 1.
        clip_denoised: clip predicted x0 during sampling (None: no clip).
        condition_field: layout field imposed at step 0 in training (the current state);
            ``"auto"``: ``"observation"`` for horizon > 1 when the layout has one.
        action_weight: loss weight of the step-0 action; None: 10 for horizon > 1 with an
            action field (Diffuser), else 1. See :class:`GaussianDiffusion`.
        normalizer: a fitted :class:`Normalizer` (share one between a base and an expert
            model) or the kind to fit on ``data``.
        layout: transition layout (taken from a WindowDataset, else one flat field).
        batch_size, lr, ema_decay, grad_clip: loop options (see :class:`TrainConfig`).
        checkpoint_dir, checkpoint_every, resume: periodic checkpoints and resuming.
        progress: show a progress bar.
        metadata: JSON-friendly facts saved with the model.

    Returns:
        The trained model (EMA weights) in eval mode.

    Example:
        >>> import numpy as np
        >>> points = np.random.default_rng(0).normal(size=(256, 2))
        >>> model = train_diffusion(points, horizon=1, steps=10, progress=False,
        ...                         network={"hidden_dim": 32})
        >>> model.sample(3).x.shape
        torch.Size([3, 1, 2])
    """
    steps = _check_steps(steps)
    windows, data_layout, data_meta = as_windows(data, horizon)
    dim = windows.shape[2]
    layout = layout or data_layout or TransitionLayout.flat(dim)
    if isinstance(normalizer, Normalizer):
        norm = normalizer
    elif hasattr(data, "fit_normalizer"):  # a WindowDataset: fit on real steps, not padding
        norm = data.fit_normalizer(normalizer)
    else:
        norm = Normalizer.fit(windows, normalizer)
    dev = resolve_device(device)
    model = seeded(lambda: _make_denoiser(denoiser, horizon, dim, network), seed)
    diffusion = GaussianDiffusion(
        model,
        NoiseSchedule(n_diffusion_steps, schedule),
        predict_epsilon=predict_epsilon,
        clip_denoised=clip_denoised,
        normalizer=norm,
        layout=layout,
        condition_field=condition_field,
        action_weight=action_weight,
        metadata={**data_meta, **(metadata or {})},
    )
    config = TrainConfig.from_options(locals())
    train = torch.as_tensor(norm.normalize(windows))
    trainer = DiffusionTrainer(diffusion, train, config, dev)
    trainer.fit(resume=resume)
    trained = trainer.model()
    assert isinstance(trained, GaussianDiffusion)
    return trained.eval()


def extract_reward(
    base: GaussianDiffusion,
    expert: GaussianDiffusion,
    data: Any,
    *,
    steps: int,
    seed: int = 0,
    device: str | torch.device = "auto",
    window: int = 1,
    reduction: Reduction = "sum",
    target: MatchTarget = "score",
    eval_at: EvalPoint = "x_t",
    l2: float = 0.0,
    source: NoisySource = "data",
    chain_pool_size: int = 256,
    chain_refresh: int = 500,
    transitions_per_window: int | Literal["auto"] | None = "auto",
    hidden_dim: int = 256,
    depth: int = 3,
    time_dim: int = 32,
    batch_size: int = 256,
    lr: float = 1e-3,
    ema_decay: float | None = 0.995,
    grad_clip: float | None = 1.0,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
) -> RelativeRewardModel:
    """Extract the relative reward of ``expert`` over ``base`` by gradient matching.

    Args:
        base: diffusion model of the base (low-reward) behaviour.
        expert: diffusion model of the expert behaviour (same schedule, horizon, layout and
            normaliser as ``base``, else :class:`~rr_gym.errors.IncompatibleModelsError`).
        data: raw windows (any form :func:`train_diffusion` accepts) that are noised to
            ``x_t``; usually both datasets together.
        steps: optimisation steps.
        seed: seeds the reward network's initialisation and training randomness.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        window: transitions per reward window (1 = a Markov reward for environments).
        reduction: ``"sum"`` or ``"mean"`` of window rewards over a trajectory.
        target: ``"score"`` (default: score differences, one scale across t) or
            ``"posterior_mean"`` (the paper's posterior-mean differences); see
            :class:`~rr_gym.rewards.GradientMatchingTrainer` and benchmarks/RESULTS.md.
        eval_at: ``"x_t"`` (default, where a planner guides) or ``"posterior_mean"``
            (the official code).
        l2: weight of an L2 penalty on the reward.
        source: ``"data"`` (Algorithm 1) or ``"base_chain"`` (Algorithm 2).
        chain_pool_size, chain_refresh: base chains per pool and steps between refreshes
            of the pool (Algorithm 2).
        transitions_per_window: match a window-1 reward's gradient at this many random
            transitions of each window (``"auto"``: 4 for ``window=1``, else all; ``None``:
            all); see
            :class:`~rr_gym.rewards.GradientMatchingTrainer`.
        hidden_dim, depth, time_dim: reward MLP sizes.
        batch_size, lr, ema_decay, grad_clip: loop options (see :class:`TrainConfig`).
        checkpoint_dir, checkpoint_every, resume: periodic checkpoints and resuming.
        progress: show a progress bar.
        metadata: JSON-friendly facts saved with the reward.

    Returns:
        The relative reward (EMA weights) in eval mode; ``reward.predict(x, t=0)``.
    """
    check_compatible(base, expert)
    steps = _check_steps(steps)
    windows, data_layout, _ = as_windows(data, base.horizon)
    if data_layout is not None and data_layout != base.layout:
        raise IncompatibleModelsError(
            f"data has layout {data_layout}, the diffusion models {base.layout}; extract the "
            "reward on windows laid out as the models' training data"
        )
    if window > base.horizon:
        raise ConfigError(f"window={window} exceeds the models' horizon {base.horizon}")
    dev = resolve_device(device)
    reward = seeded(
        lambda: RelativeRewardModel(
            base.layout,
            base.normalizer,
            window=window,
            reduction=reduction,
            hidden_dim=hidden_dim,
            depth=depth,
            time_dim=time_dim,
            schedule=base.schedule.to_dict(),
            metadata={**base.metadata, **(metadata or {})},
        ),
        seed,
    )
    config = TrainConfig.from_options(locals())
    trainer = GradientMatchingTrainer(
        reward,
        base,
        expert,
        torch.as_tensor(base.normalizer.normalize(windows)),
        config,
        dev,
        target=target,
        eval_at=eval_at,
        l2=l2,
        source=source,
        chain_pool_size=chain_pool_size,
        chain_refresh=chain_refresh,
        transitions_per_window=transitions_per_window,
    )
    trainer.fit(resume=resume)
    trained = trainer.model()
    assert isinstance(trained, RelativeRewardModel)
    return trained.eval()


def load(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Any:
    """Load a diffusion model or reward model saved with ``.save(path)``.

    See :func:`rr_gym.checkpoint.load`.
    """
    return _load_checkpoint(path, device=device)
