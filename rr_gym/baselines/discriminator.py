"""The offline density-ratio baseline: a classifier between expert and base data whose logit
is the reward.

With classes balanced in every batch, the Bayes-optimal logit of a classifier trained with
binary cross-entropy is ``log p_expert(x) - log p_base(x)``: the same log density ratio that
the relative reward recovers from two diffusion models, learnt here without any diffusion
model or environment interaction. The classifier is also the reward of GAIL (trained against
the learner's transitions instead of base data).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rr_gym.baselines.inputs import (
    check_batch,
    check_same_data_kind,
    data_horizon,
    load_windows,
)
from rr_gym.baselines.networks import Activation, build_mlp
from rr_gym.baselines.trained import RewardResult
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer, NormalizerKind
from rr_gym.rewards.base import Reduction, TorchRewardModel
from rr_gym.trainer import TrainConfig, Trainer
from rr_gym.utils.device import resolve_device
from rr_gym.utils.seeding import seeded

__all__ = ["DiscriminatorReward", "DiscriminatorTrainer", "train_discriminator"]


class DiscriminatorReward(TorchRewardModel):
    """The logit of an expert-vs-other classifier over windows of transitions.

    Positive logits mean "expert". The network reads the layout fields named in ``inputs``
    (e.g. ``("observation", "action")`` for a reward r(s, a), ``("observation",)`` for a
    state-only reward) of each of the ``window`` transitions. It ignores the diffusion step:
    the reward is the same at every ``t`` (see
    :class:`~rr_gym.baselines.NoisedDiscriminatorReward` for one that is noise-aware).

    Args:
        layout: transition layout of the inputs.
        normalizer: raw-to-model-space map (identity if None).
        window: transitions per window.
        reduction: ``"sum"`` or ``"mean"`` over windows.
        inputs: layout fields the network reads (default: all).
        hidden_sizes: hidden widths of the MLP.
        activation: ``"relu"``, ``"tanh"`` or ``"mish"`` (smooth input gradients).
        running_norm: normalise the network's inputs by running statistics (adversarial
            training, where the learner's data drifts).
        metadata: JSON-friendly facts saved with the checkpoint.

    Example:
        >>> layout = TransitionLayout.from_sizes(observation=3, action=1)
        >>> reward = DiscriminatorReward(layout, hidden_sizes=(16,))
        >>> reward.predict(np.zeros((5, 4))).shape
        (5,)
    """

    field_index: torch.Tensor

    def __init__(
        self,
        layout: TransitionLayout,
        normalizer: Normalizer | None = None,
        *,
        window: int = 1,
        reduction: Reduction = "sum",
        inputs: Sequence[str] | None = None,
        hidden_sizes: Sequence[int] = (256, 256),
        activation: Activation = "mish",
        running_norm: bool = False,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(layout, normalizer, window=window, reduction=reduction, metadata=metadata)
        self.inputs = tuple(inputs) if inputs is not None else layout.names
        if not self.inputs:
            raise ConfigError("inputs is empty; expected at least one layout field")
        index = np.concatenate([np.arange(layout.dim)[layout.slice(n)] for n in self.inputs])
        self.register_buffer("field_index", torch.as_tensor(index), persistent=False)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.activation: Activation = activation
        self.running_norm = running_norm
        self.net = build_mlp(
            window * len(index),
            self.hidden_sizes,
            1,
            activation=activation,
            running_norm=running_norm,
        )

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        del t  # the same at every diffusion step
        x = w.index_select(-1, self.field_index).reshape(w.shape[0], -1)
        return self.net(x).squeeze(-1)


class DiscriminatorTrainer(Trainer):
    """Trains a reward as a class-balanced expert-vs-base classifier (binary cross-entropy).

    Every batch draws ``batch_size // 2`` expert and ``batch_size - batch_size // 2`` base
    windows; the loss is the mean of the two classes' mean losses, so the optimum is the log
    density ratio whatever the dataset sizes.

    Args:
        reward: the reward whose trajectory reward is the logit.
        expert: normalised expert windows ``(N_E, H, D)``, ``H >= reward.window``.
        base: normalised base windows ``(N_B, H, D)``.
        config: loop options (``batch_size >= 2``).
        device: where to train.

    Raises:
        DataError: windows of another shape, or fewer windows than a batch draws.
    """

    def __init__(
        self,
        reward: TorchRewardModel,
        expert: torch.Tensor,
        base: torch.Tensor,
        config: TrainConfig,
        device: torch.device,
    ) -> None:
        for name, x in (("expert", expert), ("base", base)):
            if x.dim() != 3 or x.shape[-1] != reward.layout.dim or x.shape[1] < reward.window:
                raise DataError(
                    f"{name} windows have shape {tuple(x.shape)}; expected (N, H, "
                    f"{reward.layout.dim}) with H >= window={reward.window}"
                )
        if expert.shape[1] != base.shape[1]:
            raise DataError(
                f"expert windows have horizon {expert.shape[1]} but base windows {base.shape[1]}"
            )
        if config.batch_size < 2:
            raise ConfigError(
                f"batch_size={config.batch_size}; a class-balanced batch needs at least 2"
            )
        self.n_expert_batch = config.batch_size // 2
        check_batch(len(expert), self.n_expert_batch, "expert data", config.batch_size)
        check_batch(
            len(base), config.batch_size - self.n_expert_batch, "base data", config.batch_size
        )
        self.n_expert = len(expert)
        self.n_base = len(base)
        super().__init__(reward, torch.cat([expert, base]), config, device)

    def sample_batch(self) -> torch.Tensor:
        """``batch_size // 2`` expert windows followed by base windows, with replacement."""
        n_e = self.n_expert_batch
        n_b = self.config.batch_size - n_e
        ie = torch.randint(self.n_expert, (n_e,), generator=self.generator)
        ib = self.n_expert + torch.randint(self.n_base, (n_b,), generator=self.generator)
        return self.data[torch.cat([ie, ib]).to(self.device)]

    def classifier_input(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, t)`` fed to the classifier: clean windows at step 0 here."""
        return batch, torch.zeros(len(batch), dtype=torch.long, device=batch.device)

    def compute_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, t = self.classifier_input(batch)
        logits = self.module(x, t)
        n_e = self.n_expert_batch
        expert, base = logits[:n_e], logits[n_e:]
        loss = 0.5 * (F.softplus(-expert).mean() + F.softplus(base).mean())
        accuracy = 0.5 * ((expert > 0).float().mean() + (base < 0).float().mean())
        return loss, {"accuracy": accuracy.detach()}

    def export(self, module: nn.Module) -> TorchRewardModel:
        assert isinstance(module, TorchRewardModel)
        return module


def fit_pair_normalizer(
    expert: np.ndarray, base: np.ndarray, normalizer: Normalizer | NormalizerKind
) -> Normalizer:
    """``normalizer`` itself, or one of that kind fit on both windows ``(N, H, D)`` together."""
    if isinstance(normalizer, Normalizer):
        if normalizer.dim != expert.shape[-1]:
            raise DataError(
                f"normalizer has dim {normalizer.dim} but the data has transition dim "
                f"{expert.shape[-1]}"
            )
        return normalizer
    return Normalizer.fit(np.concatenate([expert, base]), normalizer)


def train_discriminator(
    base_data: Any,
    expert_data: Any,
    *,
    steps: int,
    seed: int = 0,
    device: str | torch.device = "auto",
    horizon: int | None = None,
    window: int | None = None,
    reduction: Reduction = "sum",
    layout: TransitionLayout | None = None,
    normalizer: Normalizer | NormalizerKind = "gaussian",
    inputs: Sequence[str] | None = None,
    hidden_sizes: Sequence[int] = (256, 256),
    activation: Activation = "mish",
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
    """Train the density-ratio discriminator between expert and base data (offline).

    Args:
        base_data: base (low-reward) data: transitions ``(N, D)``, windows ``(N, H, D)``,
            a ``WindowDataset``, or a Minari dataset id/path/object.
        expert_data: expert data, in any of the same forms, of the same layout and spaces.
        steps: optimisation steps.
        seed: seeds the network's initialisation and the batches.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        horizon: transitions per classified window (default: the expert data's, 1 for
            transitions ``(N, D)`` and Minari datasets; 1 is a Markov reward).
        window: transitions per reward window (default ``horizon``).
        reduction: how window logits add up over a longer input.
        layout: transition layout (default: the data's, else one flat field).
        normalizer: a fitted :class:`Normalizer` (e.g. a diffusion model's, to guide it) or
            the kind to fit on both datasets.
        inputs: layout fields the classifier reads (default all).
        hidden_sizes, activation: the MLP.
        batch_size, lr, weight_decay, ema_decay, grad_clip, log_every: loop options.
        checkpoint_dir, checkpoint_every, resume: periodic checkpoints and resuming.
        progress: show a progress bar.
        metadata: JSON-friendly facts saved with the reward.

    Returns:
        :class:`RewardResult` whose ``reward.predict(x)`` is the logit (log density ratio).

    Raises:
        DataError: expert and base data of different layouts, dims or spaces (both named),
            or fewer samples than a batch draws from either.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> result = train_discriminator(rng.normal(size=(64, 2)), rng.normal(1, 1, (64, 2)),
        ...                              steps=5, batch_size=32, hidden_sizes=(8,),
        ...                              progress=False, device="cpu")
        >>> result.reward.predict(np.zeros((3, 2))).shape
        (3,)
    """
    horizon = data_horizon(expert_data) if horizon is None else horizon
    expert, e_layout, e_meta = load_windows(
        expert_data, horizon=horizon, layout=layout, name="expert data"
    )
    base, b_layout, b_meta = load_windows(
        base_data, horizon=horizon, layout=layout, name="base data"
    )
    check_same_data_kind(e_layout, b_layout, e_meta, b_meta, expert.shape[2], base.shape[2])
    layout = layout or e_layout or b_layout or TransitionLayout.flat(expert.shape[2])
    norm = fit_pair_normalizer(expert, base, normalizer)
    window = horizon if window is None else window
    if not 1 <= window <= horizon:
        raise ConfigError(f"window={window}; expected 1 <= window <= horizon={horizon}")
    reward = seeded(
        lambda: DiscriminatorReward(
            layout,
            norm,
            window=window,
            reduction=reduction,
            inputs=inputs,
            hidden_sizes=hidden_sizes,
            activation=activation,
            metadata={"baseline": "discriminator", **(metadata or {})},
        ),
        seed,
    )
    config = TrainConfig.from_options(locals())
    trainer = DiscriminatorTrainer(
        reward,
        torch.as_tensor(norm.normalize(expert)),
        torch.as_tensor(norm.normalize(base)),
        config,
        resolve_device(device),
    )
    run = trainer.fit(resume=resume)
    trained = trainer.model()
    assert isinstance(trained, TorchRewardModel)
    return RewardResult(trained.eval(), run.history, run.steps, run.wall_time_s)
