"""The paper's own baseline: a time-conditioned discriminator on noised trajectories.

Expert and base windows are noised to ``x_t`` with the diffusion models' schedule, ``t``
uniform, and a classifier conditioned on ``t`` learns to tell them apart (class-balanced
binary cross-entropy). Its logit at ``(x_t, t)`` estimates ``log p_E,t(x_t) - log
p_B,t(x_t)`` of the noised marginals, so the gradient of the logit is classifier guidance
that turns the base model towards the expert at every ``t``. The model records the schedule
so a planner can check it guides a compatible diffusion model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from rr_gym.baselines.discriminator import DiscriminatorTrainer, fit_pair_normalizer
from rr_gym.baselines.inputs import check_same_data_kind, data_horizon, load_windows
from rr_gym.baselines.trained import RewardResult
from rr_gym.diffusion.gaussian import GaussianDiffusion
from rr_gym.diffusion.schedule import NoiseSchedule
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer, NormalizerKind
from rr_gym.rewards.base import Reduction, TorchRewardModel
from rr_gym.rewards.network import FoldableMLP, WindowRewardNet
from rr_gym.trainer import TrainConfig
from rr_gym.utils.device import resolve_device
from rr_gym.utils.seeding import seeded

__all__ = [
    "NoisedDiscriminatorReward",
    "NoisedDiscriminatorTrainer",
    "train_noised_discriminator",
]


class NoisedDiscriminatorReward(TorchRewardModel):
    """Logit of an expert-vs-base classifier of noised windows at diffusion step ``t``.

    The network is the relative reward's (:class:`~rr_gym.rewards.WindowRewardNet`: a smooth
    MLP over the window with a sinusoidal step embedding), so the two rewards are compared
    at equal capacity and either guides a planner.

    Args:
        layout: transition layout (the diffusion models').
        normalizer: the diffusion models' normaliser.
        window: transitions per window.
        reduction: ``"sum"`` or ``"mean"`` of window logits over a trajectory.
        hidden_dim, depth, time_dim: network sizes.
        schedule: the noise schedule as a dict (``NoiseSchedule.to_dict()``).
        metadata: JSON-friendly facts saved with the checkpoint.

    Example:
        >>> import numpy as np
        >>> reward = NoisedDiscriminatorReward(TransitionLayout.flat(2), hidden_dim=16,
        ...                                    schedule=NoiseSchedule(10).to_dict())
        >>> reward.gradient(torch.zeros(4, 1, 2), torch.tensor([0, 3, 6, 9])).shape
        torch.Size([4, 1, 2])
    """

    def __init__(
        self,
        layout: TransitionLayout,
        normalizer: Normalizer | None = None,
        *,
        window: int = 1,
        reduction: Reduction = "sum",
        hidden_dim: int = 256,
        depth: int = 3,
        time_dim: int = 32,
        schedule: Mapping[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(layout, normalizer, window=window, reduction=reduction, metadata=metadata)
        if not schedule:
            raise ConfigError(
                "a NoisedDiscriminatorReward needs the noise schedule (NoiseSchedule.to_dict())"
            )
        self.schedule = dict(schedule)
        self.noise_schedule = NoiseSchedule.from_dict(self.schedule)
        self.net = WindowRewardNet(window, layout.dim, hidden_dim, depth, time_dim)

    @property
    def n_diffusion_steps(self) -> int:
        """T of the schedule the discriminator was trained on."""
        return self.noise_schedule.n_steps

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(w, t)

    def foldable(self, t: int) -> FoldableMLP:
        return self.net.foldable(t)


class NoisedDiscriminatorTrainer(DiscriminatorTrainer):
    """Class-balanced classification of windows noised to a uniform random step ``t``.

    Args:
        reward: a :class:`NoisedDiscriminatorReward` (its schedule noises the data).
        expert: normalised expert windows ``(N_E, H, D)``.
        base: normalised base windows ``(N_B, H, D)``.
        config: loop options.
        device: where to train.
    """

    def __init__(
        self,
        reward: NoisedDiscriminatorReward,
        expert: torch.Tensor,
        base: torch.Tensor,
        config: TrainConfig,
        device: torch.device,
    ) -> None:
        super().__init__(reward, expert, base, config, device)
        self.schedule = reward.noise_schedule

    def classifier_input(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x_t, t)``: the batch noised to steps ``t`` drawn uniformly."""
        xt, t, _ = self.schedule.draw_noised(batch, self.generator)
        return xt, t

    def options(self) -> dict[str, Any]:
        return {"schedule": self.schedule.to_dict()}


def train_noised_discriminator(
    base_data: Any,
    expert_data: Any,
    *,
    steps: int,
    diffusion: GaussianDiffusion | None = None,
    schedule: NoiseSchedule | Mapping[str, Any] | None = None,
    horizon: int | None = None,
    normalizer: Normalizer | NormalizerKind = "gaussian",
    layout: TransitionLayout | None = None,
    seed: int = 0,
    device: str | torch.device = "auto",
    window: int = 1,
    reduction: Reduction = "sum",
    hidden_dim: int = 256,
    depth: int = 3,
    time_dim: int = 32,
    batch_size: int = 256,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    ema_decay: float | None = 0.995,
    grad_clip: float | None = 1.0,
    log_every: int = 100,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
) -> RewardResult:
    """Train the paper's baseline: a time-conditioned discriminator on noised windows.

    Give ``diffusion`` (the model the discriminator will guide) to take its schedule,
    horizon, layout and normaliser, so the result passes the planner's compatibility
    checks; otherwise give ``schedule`` and ``horizon``.

    Args:
        base_data: base windows: ``(N, H, D)``, a ``WindowDataset`` or a Minari source.
        expert_data: expert windows of the same layout and spaces.
        steps: optimisation steps.
        diffusion: the diffusion model to be guided.
        schedule: the noise schedule (without ``diffusion``).
        horizon: window length H (without ``diffusion``; default: the expert data's, 1 for
            transitions ``(N, D)`` and Minari datasets).
        normalizer: fitted normaliser or kind to fit on both datasets (without
            ``diffusion``).
        layout: transition layout (default: the data's or the diffusion model's).
        seed: seeds the initialisation, batches, steps and noise.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        window, reduction: reward windows within the horizon and how they add up.
        hidden_dim, depth, time_dim: network sizes.
        batch_size, lr, weight_decay, ema_decay, grad_clip, log_every: loop options.
        checkpoint_dir, checkpoint_every, resume: periodic checkpoints and resuming.
        progress: show a progress bar.
        metadata: JSON-friendly facts saved with the reward.

    Returns:
        :class:`RewardResult`; ``reward.gradient(x_t, t)`` is the guide.

    Raises:
        ConfigError: neither ``diffusion`` nor ``schedule``, or both.
        DataError: mismatched expert and base data (both named), data that does not fit
            the diffusion model, too few windows for the batch.
    """
    if (diffusion is None) == (schedule is None):
        raise ConfigError(
            "give exactly one of diffusion= (the model to guide) or schedule=; got "
            f"diffusion={type(diffusion).__name__}, schedule={schedule!r}"
        )
    if diffusion is not None:
        if horizon is not None and horizon != diffusion.horizon:
            raise ConfigError(f"horizon={horizon} but the diffusion model has {diffusion.horizon}")
        if layout is not None and layout != diffusion.layout:
            raise ConfigError(f"layout={layout} but the diffusion model has {diffusion.layout}")
        horizon, layout = diffusion.horizon, diffusion.layout
        normalizer = diffusion.normalizer
        sched = diffusion.schedule
    else:
        assert schedule is not None  # exactly one of the two, checked above
        sched = (
            schedule if isinstance(schedule, NoiseSchedule) else NoiseSchedule.from_dict(schedule)
        )
        horizon = data_horizon(expert_data) if horizon is None else horizon
    expert, e_layout, e_meta = load_windows(
        expert_data, horizon=horizon, layout=layout, name="expert data"
    )
    base, b_layout, b_meta = load_windows(
        base_data, horizon=horizon, layout=layout, name="base data"
    )
    check_same_data_kind(e_layout, b_layout, e_meta, b_meta, expert.shape[2], base.shape[2])
    layout = layout or e_layout or b_layout or TransitionLayout.flat(expert.shape[2])
    if layout.dim != expert.shape[2]:
        raise DataError(
            f"data has transition dim {expert.shape[2]} but the layout {layout} has {layout.dim}"
        )
    norm = fit_pair_normalizer(expert, base, normalizer)
    if not 1 <= window <= horizon:
        raise ConfigError(f"window={window}; expected 1 <= window <= horizon={horizon}")
    reward = seeded(
        lambda: NoisedDiscriminatorReward(
            layout,
            norm,
            window=window,
            reduction=reduction,
            hidden_dim=hidden_dim,
            depth=depth,
            time_dim=time_dim,
            schedule=sched.to_dict(),
            metadata={"baseline": "noised_discriminator", **(metadata or {})},
        ),
        seed,
    )
    config = TrainConfig.from_options(locals())
    trainer = NoisedDiscriminatorTrainer(
        reward,
        torch.as_tensor(norm.normalize(expert)),
        torch.as_tensor(norm.normalize(base)),
        config,
        resolve_device(device),
    )
    run = trainer.fit(resume=resume)
    trained = trainer.model()
    assert isinstance(trained, NoisedDiscriminatorReward)
    return RewardResult(trained.eval(), run.history, run.steps, run.wall_time_s)
