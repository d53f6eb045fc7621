"""GAIL (Ho & Ermon 2016): a discriminator between expert and learner transitions, and a PPO
learner trained on the reward it gives.

The discriminator is a :class:`~rr_gym.baselines.DiscriminatorReward` (logit ``l(s, a)``,
positive = expert). The learner maximises ``-log(1 - D) = softplus(l)`` (as imitation's
``RewardNetFromDiscriminatorLogit``); the exported reward is the logit itself, a
``RewardModel`` like every other.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rr_gym.baselines.adversarial import AdversarialTrainer, EnvSource, train_adversarial
from rr_gym.baselines.discriminator import DiscriminatorReward
from rr_gym.baselines.inputs import data_facts
from rr_gym.baselines.networks import Activation
from rr_gym.baselines.trained import AdversarialResult
from rr_gym.layout import TransitionLayout

__all__ = ["GAILTrainer", "train_gail"]


class GAILTrainer(AdversarialTrainer):
    """GAIL: logits are the discriminator's; the learner's reward is ``softplus(logit)``.

    Args: see :class:`~rr_gym.baselines.adversarial.AdversarialTrainer`; ``reward`` is a
    :class:`DiscriminatorReward`.
    """

    def disc_logits(self, rows: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        del dones  # GAIL's discriminator does not read them
        return self.reward(rows[:, None, :])

    def learner_reward(self, rows: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        return F.softplus(self.disc_logits(rows, dones))

    def options(self) -> dict[str, Any]:
        return {"learner_reward": "softplus(logit)"}


def train_gail(
    env: EnvSource,
    expert_data: Any,
    *,
    total_timesteps: int,
    seed: int = 0,
    device: str | torch.device = "auto",
    n_envs: int = 8,
    layout: TransitionLayout | None = None,
    dones: np.ndarray | None = None,
    inputs: Sequence[str] = ("observation", "action"),
    hidden_sizes: Sequence[int] = (32, 32),
    activation: Activation = "relu",
    running_norm: bool = True,
    ppo_kwargs: dict[str, Any] | None = None,
    demo_batch_size: int = 1024,
    n_disc_updates_per_round: int = 8,
    gen_train_timesteps: int | None = None,
    gen_replay_buffer_capacity: int | None = None,
    disc_lr: float = 1e-3,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int | None = None,
    resume: bool = False,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
) -> AdversarialResult:
    """Train GAIL on ``env`` from expert transitions.

    Args:
        env: Gymnasium id, env, env factory or SB3 VecEnv (Box spaces).
        expert_data: expert transitions: an array ``(N, D)`` (layout from ``layout`` or
            guessed from the env's spaces), a ``WindowDataset`` of horizon 1, or a Minari
            dataset id/path/object.
        total_timesteps: env steps in all (whole rounds of ``gen_train_timesteps``).
        seed: seeds the discriminator's initialisation, PPO, the envs and the sampling.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``... for the discriminator and PPO.
        n_envs: parallel envs (``DummyVecEnv``) for an id or a factory.
        layout: the expert data's layout (fields ``observation``, ``action``
            [, ``next_observation``]).
        dones: ``(N,)`` termination flags for array data.
        inputs: layout fields the discriminator reads (``("observation",)``: state-only).
        hidden_sizes, activation, running_norm: the discriminator (imitation's
            ``BasicRewardNet`` defaults: 32x32 ReLU behind a running normaliser).
        ppo_kwargs: keyword arguments of ``stable_baselines3.PPO``.
        demo_batch_size, n_disc_updates_per_round, gen_train_timesteps,
            gen_replay_buffer_capacity, disc_lr: see
            :class:`~rr_gym.baselines.adversarial.AdversarialTrainer`.
        checkpoint_dir, checkpoint_every, resume: checkpoints every ``checkpoint_every``
            rounds, and resuming from the last one.
        progress: show a progress bar.
        metadata: JSON-friendly facts saved with the reward.

    Returns:
        :class:`~rr_gym.baselines.AdversarialResult`; ``result.reward`` is the
        discriminator's logit.

    Raises:
        DataError: expert data whose sizes differ from the env's spaces (both named), or
            fewer transitions than ``demo_batch_size``.
    """
    return train_adversarial(
        GAILTrainer,
        env,
        expert_data,
        lambda expert: DiscriminatorReward(
            expert.layout,
            inputs=inputs,
            hidden_sizes=hidden_sizes,
            activation=activation,
            running_norm=running_norm,
            metadata={"baseline": "gail", **data_facts(expert), **(metadata or {})},
        ),
        total_timesteps=total_timesteps,
        seed=seed,
        device=device,
        n_envs=n_envs,
        layout=layout,
        dones=dones,
        next_observation=(False, True),
        require=("observation", "action"),
        resume=resume,
        ppo_kwargs=ppo_kwargs,
        demo_batch_size=demo_batch_size,
        n_disc_updates_per_round=n_disc_updates_per_round,
        gen_train_timesteps=gen_train_timesteps,
        gen_replay_buffer_capacity=gen_replay_buffer_capacity,
        disc_lr=disc_lr,
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every,
        progress=progress,
    )
