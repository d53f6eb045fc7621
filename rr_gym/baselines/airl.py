"""AIRL (Fu, Luo & Levine 2018): a reward ``g(s[, a])`` plus a potential-based shaping term.

The discriminator is ``D = exp(f) / (exp(f) + pi(a|s))`` with ``f(s, a, s') = g(s[, a]) +
gamma * h(s') - h(s)`` (``h(s')`` dropped after a termination), i.e. logit ``f - log pi``.
Shaping by a potential leaves optimal policies unchanged, so the unshaped ``g`` is the
exported reward; with ``state_only`` it is a function of the state alone, which the AIRL
paper shows recovers the reward up to a constant under deterministic dynamics. As in
imitation, the learner is trained on ``f`` and relies on PPO's own entropy handling.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rr_gym.baselines.adversarial import AdversarialTrainer, EnvSource, train_adversarial
from rr_gym.baselines.inputs import data_facts
from rr_gym.baselines.networks import Activation, build_mlp
from rr_gym.baselines.trained import AdversarialResult
from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.rewards.base import TorchRewardModel

__all__ = ["AIRLReward", "AIRLTrainer", "train_airl"]


class AIRLReward(TorchRewardModel):
    """AIRL's reward ``g(s[, a])`` with its shaping potential ``h(s)``.

    As a :class:`~rr_gym.rewards.base.RewardModel` it is the unshaped ``g`` of one
    transition (``window = 1``); :meth:`shaped` gives ``f`` for training.

    Args:
        layout: transition layout with ``observation`` and ``action`` fields (AIRL's training
            also needs ``next_observation``).
        state_only: ``g`` reads the observation only.
        reward_hidden_sizes: hidden widths of ``g`` (imitation: ``(32,)``).
        potential_hidden_sizes: hidden widths of ``h`` (imitation: ``(32, 32)``).
        activation: hidden activation.
        running_norm: normalise both networks' inputs by running statistics.
        discount: the shaping discount ``gamma``.
        metadata: JSON-friendly facts saved with the checkpoint.

    Example:
        >>> layout = TransitionLayout.from_sizes(observation=3, action=1, next_observation=3)
        >>> reward = AIRLReward(layout, state_only=True)
        >>> reward.predict(np.zeros((5, 7))).shape
        (5,)
    """

    g_index: torch.Tensor

    def __init__(
        self,
        layout: TransitionLayout,
        *,
        state_only: bool = False,
        reward_hidden_sizes: Sequence[int] = (32,),
        potential_hidden_sizes: Sequence[int] = (32, 32),
        activation: Activation = "relu",
        running_norm: bool = True,
        discount: float = 0.99,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(layout, None, window=1, metadata=metadata)
        for name in ("observation", "action"):
            layout.slice(name)  # ConfigError naming the fields when missing
        if not 0.0 <= discount <= 1.0:
            raise ConfigError(f"discount={discount}; expected 0 <= discount <= 1")
        self.state_only = state_only
        self.discount = float(discount)
        self.reward_hidden_sizes = tuple(int(h) for h in reward_hidden_sizes)
        self.potential_hidden_sizes = tuple(int(h) for h in potential_hidden_sizes)
        self.activation: Activation = activation
        self.running_norm = running_norm
        inputs = ("observation",) if state_only else ("observation", "action")
        index = np.concatenate([np.arange(layout.dim)[layout.slice(n)] for n in inputs])
        self.register_buffer("g_index", torch.as_tensor(index), persistent=False)
        self.obs_slice = layout.slice("observation")
        obs_dim = self.obs_slice.stop - self.obs_slice.start
        self.g = build_mlp(
            len(index),
            self.reward_hidden_sizes,
            1,
            activation=activation,
            running_norm=running_norm,
        )
        self.h = build_mlp(
            obs_dim,
            self.potential_hidden_sizes,
            1,
            activation=activation,
            running_norm=running_norm,
        )

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        del t  # the same at every diffusion step
        return self.g(w[:, 0].index_select(-1, self.g_index)).squeeze(-1)

    def potential(self, obs: torch.Tensor) -> torch.Tensor:
        """``h(s)`` ``(n,)`` of observations ``(n, obs_dim)``."""
        return self.h(obs).squeeze(-1)

    def shaped(self, rows: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        """``f = g + discount * (1 - done) * h(s') - h(s)`` ``(n,)`` of transitions ``(n, D)``
        (layout with ``next_observation``) and termination flags ``(n,)``."""
        g = self.window_reward(rows[:, None, :], torch.zeros(len(rows), device=rows.device))
        next_obs = rows[:, self.layout.slice("next_observation")]
        h_next = self.potential(next_obs) * (1.0 - dones.to(rows.dtype))
        return g + self.discount * h_next - self.potential(rows[:, self.obs_slice])


class AIRLTrainer(AdversarialTrainer):
    """AIRL: logit ``f(s, a, s') - log pi(a|s)`` with the learner's current policy; the
    learner's reward is ``f``.

    Args: see :class:`~rr_gym.baselines.adversarial.AdversarialTrainer`; ``reward`` is an
    :class:`AIRLReward` whose layout has ``next_observation``.
    """

    def __init__(self, reward: AIRLReward, *args: Any, **kwargs: Any) -> None:
        if "next_observation" not in reward.layout:
            raise ConfigError(
                f"AIRL needs next observations for its shaping term; layout {reward.layout} "
                "has no 'next_observation' field"
            )
        super().__init__(reward, *args, **kwargs)
        self.airl: AIRLReward = reward
        self._obs = reward.layout.slice("observation")
        self._act = reward.layout.slice("action")

    def disc_logits(self, rows: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            _, log_pi, _ = self.learner.policy.evaluate_actions(
                rows[:, self._obs].to(self.learner.device),
                rows[:, self._act].to(self.learner.device),
            )
        return self.airl.shaped(rows, dones) - log_pi.reshape(-1).to(rows.device)

    def learner_reward(self, rows: torch.Tensor, dones: torch.Tensor) -> torch.Tensor:
        return self.airl.shaped(rows, dones)

    def options(self) -> dict[str, Any]:
        return {"learner_reward": "shaped f", "state_only": self.airl.state_only}


def train_airl(
    env: EnvSource,
    expert_data: Any,
    *,
    total_timesteps: int,
    seed: int = 0,
    device: str | torch.device = "auto",
    n_envs: int = 8,
    layout: TransitionLayout | None = None,
    dones: np.ndarray | None = None,
    state_only: bool = False,
    discount: float = 0.99,
    reward_hidden_sizes: Sequence[int] = (32,),
    potential_hidden_sizes: Sequence[int] = (32, 32),
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
    """Train AIRL on ``env`` from expert transitions.

    Args:
        env: Gymnasium id, env, env factory or SB3 VecEnv (Box spaces).
        expert_data: expert transitions with ``observation``, ``action`` and
            ``next_observation`` fields: an array ``(N, D)`` (layout from ``layout`` or
            the env's spaces), a ``WindowDataset`` of horizon 1, or a Minari dataset.
        total_timesteps: env steps in all (whole rounds).
        seed: seeds the networks' initialisation, PPO, the envs and the sampling.
        device: for the reward networks and PPO.
        n_envs: parallel envs for an id or a factory.
        layout: the expert data's layout.
        dones: ``(N,)`` termination flags for array data (drop ``h(s')`` there).
        state_only: ``g(s)`` instead of ``g(s, a)``.
        discount: shaping discount (imitation's default 0.99).
        reward_hidden_sizes, potential_hidden_sizes, activation, running_norm: networks
            (imitation's ``BasicShapedRewardNet`` defaults).
        ppo_kwargs: keyword arguments of ``stable_baselines3.PPO``.
        demo_batch_size, n_disc_updates_per_round, gen_train_timesteps,
            gen_replay_buffer_capacity, disc_lr: see
            :class:`~rr_gym.baselines.adversarial.AdversarialTrainer`.
        checkpoint_dir, checkpoint_every, resume: checkpoints and resuming.
        progress: show a progress bar.
        metadata: JSON-friendly facts saved with the reward.

    Returns:
        :class:`~rr_gym.baselines.AdversarialResult`; ``result.reward`` is the unshaped
        ``g``.

    Raises:
        DataError: expert data without next observations, of sizes other than the env's
            spaces (both named), or with fewer transitions than ``demo_batch_size``.
    """
    return train_adversarial(
        AIRLTrainer,
        env,
        expert_data,
        lambda expert: AIRLReward(
            expert.layout,
            state_only=state_only,
            reward_hidden_sizes=reward_hidden_sizes,
            potential_hidden_sizes=potential_hidden_sizes,
            activation=activation,
            running_norm=running_norm,
            discount=discount,
            metadata={"baseline": "airl", **data_facts(expert), **(metadata or {})},
        ),
        total_timesteps=total_timesteps,
        seed=seed,
        device=device,
        n_envs=n_envs,
        layout=layout,
        dones=dones,
        next_observation=(True,),
        require=("observation", "action", "next_observation"),
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
