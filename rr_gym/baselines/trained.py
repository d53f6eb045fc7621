"""What the baseline trainers return: the trained model with its training history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rr_gym.baselines.bc import BCPolicy
    from rr_gym.data.policies import MLPPolicy
    from rr_gym.rewards.base import TorchRewardModel

__all__ = ["AdversarialResult", "BCResult", "RewardResult"]


@dataclass
class RewardResult:
    """An offline-trained reward (discriminators).

    Attributes:
        reward: the trained reward model (EMA weights when EMA is on), in eval mode.
        history: one dict per logged step (``step``, ``loss``, ``accuracy``).
        steps: optimisation steps done.
        wall_time_s: seconds spent in this call's training loop.
    """

    reward: TorchRewardModel
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    wall_time_s: float = 0.0


@dataclass
class AdversarialResult:
    """A GAIL or AIRL run.

    Attributes:
        reward: the exported reward (GAIL: the discriminator logit; AIRL: the unshaped g).
        learner: the Stable-Baselines3 PPO generator.
        policy: the generator's actor as a pickle-free :class:`~rr_gym.data.MLPPolicy`.
        history: one dict per round: ``round``, ``timesteps``, ``episodes`` (completed in
            the round), ``learned_reward`` (mean given to the learner), ``env_return`` (mean
            true return of the completed episodes; absent when none completed), and the
            discriminator's ``disc_loss``, ``disc_acc``, ``disc_expert_acc``,
            ``disc_gen_acc`` (means over the round's updates).
        timesteps: environment steps done in total.
        rounds: rounds done in total.
        wall_time_s: seconds spent in this call.
    """

    reward: TorchRewardModel
    learner: Any
    policy: MLPPolicy | None
    history: list[dict[str, float]] = field(default_factory=list)
    timesteps: int = 0
    rounds: int = 0
    wall_time_s: float = 0.0


@dataclass
class BCResult:
    """A behaviour-cloning run.

    Attributes:
        policy: the trained policy (EMA weights when EMA is on), in eval mode.
        history: one dict per logged step (``step``, ``loss``, ``mse``).
        steps: optimisation steps done.
        wall_time_s: seconds spent in this call's training loop.
    """

    policy: BCPolicy
    history: list[dict[str, float]] = field(default_factory=list)
    steps: int = 0
    wall_time_s: float = 0.0
