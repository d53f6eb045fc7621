"""IRL and reward-learning baselines under the one RewardModel interface.

- :func:`train_discriminator`: offline density ratio, a classifier between expert and base
  data whose logit is the reward (:class:`DiscriminatorReward`).
- :func:`train_noised_discriminator`: the paper's baseline, a time-conditioned classifier on
  noised windows whose logit gradient guides a planner (:class:`NoisedDiscriminatorReward`).
- :func:`train_gail`: GAIL with an SB3 PPO learner; the reward is the discriminator logit.
- :func:`train_airl`: AIRL with an SB3 PPO learner; the reward is the unshaped
  ``g(s[, a])`` (:class:`AIRLReward`, ``state_only`` option).
- :func:`train_bc`: behaviour cloning, the policy baseline (:class:`BCPolicy`).

Every reward is a :class:`~rr_gym.rewards.base.TorchRewardModel`: ``reward.predict(x, t=0)``
on raw transitions, ``reward.gradient(x, t)`` for guidance, ``reward.save(path)`` and
``rr_gym.load(path)``. Training shows progress bars, takes a seed and a device, and writes
resumable checkpoints.

Example:
    >>> import numpy as np
    >>> from rr_gym.baselines import train_discriminator
    >>> rng = np.random.default_rng(0)
    >>> base, expert = rng.normal(0, 1, (256, 2)), rng.normal(2, 1, (256, 2))
    >>> result = train_discriminator(base, expert, steps=20, batch_size=64,
    ...                              hidden_sizes=(16,), progress=False, device="cpu")
    >>> bool(result.reward.predict(np.array([[2.0, 2.0]]))[0]
    ...      > result.reward.predict(np.array([[-1.0, -1.0]]))[0])
    True
"""

from rr_gym.baselines.airl import AIRLReward, train_airl
from rr_gym.baselines.bc import BCPolicy, train_bc
from rr_gym.baselines.discriminator import DiscriminatorReward, train_discriminator
from rr_gym.baselines.gail import train_gail
from rr_gym.baselines.noised_discriminator import (
    NoisedDiscriminatorReward,
    train_noised_discriminator,
)
from rr_gym.baselines.trained import AdversarialResult, BCResult, RewardResult

# What a user calls; the trainers and building blocks (rr_gym.baselines.adversarial,
# .inputs, .networks, .relabel, ...) stay importable from their modules.
__all__ = [
    "AIRLReward",
    "AdversarialResult",
    "BCPolicy",
    "BCResult",
    "DiscriminatorReward",
    "NoisedDiscriminatorReward",
    "RewardResult",
    "train_airl",
    "train_bc",
    "train_discriminator",
    "train_gail",
    "train_noised_discriminator",
]
