"""Behaviour cloning: a policy fit by regression on expert (observation, action) pairs, the
policy baseline of the retraining comparison. It is a policy, not a reward."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rr_gym.baselines.inputs import check_batch, data_facts, load_transitions
from rr_gym.baselines.networks import Activation, build_mlp
from rr_gym.baselines.trained import BCResult
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.recorded_init import RecordedInit
from rr_gym.trainer import TrainConfig, Trainer
from rr_gym.utils.device import resolve_device
from rr_gym.utils.seeding import seeded
from rr_gym.utils.validation import check_finite

__all__ = ["BCPolicy", "BCTrainer", "SB3PolicyAdapter", "train_bc"]


class BCPolicy(RecordedInit, nn.Module):
    """An MLP policy ``observation -> action``, deterministic or Gaussian.

    Observations and actions are normalised inside (the normalisers are saved with it); a
    Gaussian policy has a state-independent learned log standard deviation. Saved as
    safetensors + JSON (``policy.save(path)``, ``rr_gym.load(path)``).

    Args:
        obs_dim: observation size.
        act_dim: action size.
        obs_normalizer: raw-to-normalised observations (identity if None).
        act_normalizer: raw-to-normalised actions (identity if None).
        hidden_sizes: hidden widths (empty: a linear policy).
        activation: hidden activation.
        stochastic: a Gaussian policy trained by likelihood (else MSE regression).
        action_low: ``(act_dim,)`` lower bounds actions are clipped to (None: no clip).
        action_high: ``(act_dim,)`` upper bounds.
        metadata: JSON-friendly facts saved with the checkpoint.

    Shapes:
        ``predict(obs)``: ``(obs_dim,)`` -> ``(act_dim,)``; ``(B, obs_dim)`` ->
        ``(B, act_dim)``.

    Example:
        >>> policy = BCPolicy(3, 1, hidden_sizes=(8,))
        >>> policy.predict(np.zeros(3)).shape, policy.predict(np.zeros((4, 3))).shape
        ((1,), (4, 1))
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        *,
        obs_normalizer: Normalizer | None = None,
        act_normalizer: Normalizer | None = None,
        hidden_sizes: Sequence[int] = (256, 256),
        activation: Activation = "relu",
        stochastic: bool = False,
        action_low: np.ndarray | None = None,
        action_high: np.ndarray | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.obs_normalizer = obs_normalizer or Normalizer.identity(obs_dim)
        self.act_normalizer = act_normalizer or Normalizer.identity(act_dim)
        if self.obs_normalizer.dim != obs_dim or self.act_normalizer.dim != act_dim:
            raise ConfigError(
                f"normalizers of dims {self.obs_normalizer.dim}/{self.act_normalizer.dim} do not "
                f"match obs_dim={obs_dim}/act_dim={act_dim}"
            )
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.activation: Activation = activation
        self.stochastic = stochastic
        self.net = build_mlp(obs_dim, self.hidden_sizes, act_dim, activation=activation)
        if stochastic:
            self.log_std = nn.Parameter(torch.zeros(act_dim))
        bounds = (action_low is None, action_high is None)
        if any(bounds) and not all(bounds):
            raise ConfigError("give both action_low and action_high, or neither")
        self.action_low = None if action_low is None else np.asarray(action_low, np.float64)
        self.action_high = None if action_high is None else np.asarray(action_high, np.float64)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.training_config: dict[str, Any] = {}

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Mean action ``(B, act_dim)`` (normalised) of normalised observations ``(B, obs_dim)``."""
        return self.net(obs)

    def loss(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(training loss, mse)`` on normalised ``obs`` ``(B, obs_dim)`` and ``act``
        ``(B, act_dim)``: the negative log-likelihood (Gaussian) or the mean squared error."""
        mean = self.forward(obs)
        mse = ((mean - act) ** 2).mean()
        if not self.stochastic:
            return mse, mse
        z = (act - mean) * torch.exp(-self.log_std)
        nll = (0.5 * z**2 + self.log_std).sum(-1).mean() + 0.5 * self.act_dim * math.log(
            2 * math.pi
        )
        return nll, mse

    @torch.no_grad()
    def predict(
        self,
        obs: np.ndarray,
        *,
        deterministic: bool = True,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Action of raw ``obs`` ``(obs_dim,)`` or ``(B, obs_dim)``; the mean, or a sample.

        Raises:
            DataError: wrong shape or non-finite values.
            ConfigError: a sample (``deterministic=False``) without ``rng`` or from a
                deterministic policy.
        """
        arr = np.asarray(obs, np.float32)
        single = arr.ndim == 1
        batch = arr[None] if single else arr
        if batch.ndim != 2 or batch.shape[1] != self.obs_dim:
            raise DataError(
                f"observation of shape {arr.shape}; expected ({self.obs_dim},) or "
                f"(B, {self.obs_dim})"
            )
        check_finite(batch, "observation")
        was_training = self.training
        self.eval()
        try:
            x = torch.as_tensor(self.obs_normalizer.normalize(batch), device=self.device)
            mean = self.forward(x).cpu().numpy().astype(np.float64)
        finally:
            self.train(was_training)
        if not deterministic:
            if not self.stochastic or rng is None:
                raise ConfigError(
                    "deterministic=False needs a stochastic policy and rng=np.random.Generator"
                )
            std = np.exp(self.log_std.detach().cpu().numpy())
            mean = mean + std * rng.standard_normal(mean.shape)
        action = self.act_normalizer.unnormalize(mean)
        if self.action_low is not None and self.action_high is not None:
            action = np.clip(action, self.action_low, self.action_high)
        action = action.astype(np.float32)
        return action[0] if single else action

    def as_sb3(self) -> SB3PolicyAdapter:
        """An object with SB3's ``predict(obs, state, episode_start, deterministic)``
        signature, for ``stable_baselines3.common.evaluation.evaluate_policy``."""
        return SB3PolicyAdapter(self)


class SB3PolicyAdapter:
    """Wraps a :class:`BCPolicy` in SB3's ``predict`` signature (actions, no recurrent state).

    Args:
        policy: the policy to wrap.
    """

    def __init__(self, policy: BCPolicy) -> None:
        self.policy = policy

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, None]:
        del state, episode_start, deterministic  # the mean action, no recurrent state
        return self.policy.predict(observation), None


class BCTrainer(Trainer):
    """Fits a :class:`BCPolicy` on normalised ``[observation, action]`` rows ``(N, o + a)``."""

    def __init__(
        self, policy: BCPolicy, data: torch.Tensor, config: Any, device: torch.device
    ) -> None:
        if data.dim() != 2 or data.shape[1] != policy.obs_dim + policy.act_dim:
            raise DataError(
                f"BC rows have shape {tuple(data.shape)}; expected (N, "
                f"{policy.obs_dim + policy.act_dim})"
            )
        check_batch(len(data), config.batch_size, "expert data", config.batch_size)
        super().__init__(policy, data, config, device)
        self.policy = policy

    def compute_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        o = self.policy.obs_dim
        loss, mse = self.module.loss(batch[:, :o], batch[:, o:])  # type: ignore[operator]
        return loss, {"mse": mse.detach()}

    def export(self, module: nn.Module) -> BCPolicy:
        assert isinstance(module, BCPolicy)
        return module


def train_bc(
    expert_data: Any,
    *,
    steps: int,
    seed: int = 0,
    device: str | torch.device = "auto",
    layout: TransitionLayout | None = None,
    action_space: gym.spaces.Box | None = None,
    hidden_sizes: Sequence[int] = (256, 256),
    activation: Activation = "relu",
    stochastic: bool = False,
    normalize: bool = True,
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
) -> BCResult:
    """Behaviour cloning on expert (observation, action) pairs.

    Args:
        expert_data: a pair ``(observations (N, o), actions (N, a))``, transitions ``(N, D)``
            with a ``layout``, a ``WindowDataset`` of horizon 1 or a Minari dataset.
        steps: optimisation steps.
        seed: seeds the initialisation and the batches.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        layout: layout of transition arrays (fields ``observation`` and ``action``).
        action_space: clip actions to this Box.
        hidden_sizes, activation: the MLP (empty ``hidden_sizes``: linear).
        stochastic: Gaussian policy trained by likelihood (else MSE regression).
        normalize: standardise observations and actions (Gaussian normalisers on the data).
        batch_size, lr, weight_decay, ema_decay, grad_clip, log_every: loop options.
        checkpoint_dir, checkpoint_every, resume: periodic checkpoints and resuming.
        progress: show a progress bar.
        metadata: JSON-friendly facts saved with the policy.

    Returns:
        :class:`~rr_gym.baselines.BCResult`.

    Raises:
        DataError: pairs of different lengths, fewer rows than ``batch_size``, NaN/inf.
    """
    if isinstance(expert_data, tuple) and len(expert_data) == 2:
        obs = np.asarray(expert_data[0], np.float32).reshape(len(expert_data[0]), -1)
        act = np.asarray(expert_data[1], np.float32).reshape(len(expert_data[1]), -1)
        if len(obs) != len(act):
            raise DataError(f"{len(obs)} observations but {len(act)} actions; expected as many")
        facts: dict[str, Any] = {}
    else:
        data = load_transitions(expert_data, layout=layout)
        obs, act, facts = data.field("observation"), data.field("action"), data_facts(data)
    check_finite(obs, "expert observations")
    check_finite(act, "expert actions")
    if action_space is not None and tuple(action_space.shape) != (act.shape[1],):
        raise DataError(
            f"expert actions have size {act.shape[1]} but action_space is {action_space}"
        )
    obs_norm = Normalizer.fit(obs, "gaussian" if normalize else "identity")
    act_norm = Normalizer.fit(act, "gaussian" if normalize else "identity")
    policy = seeded(
        lambda: BCPolicy(
            obs.shape[1],
            act.shape[1],
            obs_normalizer=obs_norm,
            act_normalizer=act_norm,
            hidden_sizes=hidden_sizes,
            activation=activation,
            stochastic=stochastic,
            action_low=None if action_space is None else action_space.low,
            action_high=None if action_space is None else action_space.high,
            metadata={"baseline": "bc", **facts, **(metadata or {})},
        ),
        seed,
    )
    config = TrainConfig.from_options(locals())
    rows = np.concatenate([obs_norm.normalize(obs), act_norm.normalize(act)], axis=1)
    trainer = BCTrainer(
        policy, torch.as_tensor(rows, dtype=torch.float32), config, resolve_device(device)
    )
    run = trainer.fit(resume=resume)
    trained = trainer.model()
    assert isinstance(trained, BCPolicy)
    return BCResult(trained.eval(), run.history, run.steps, run.wall_time_s)
