"""Rewards: the RewardModel protocol, the relative reward and its gradient-matching trainer."""

from rr_gym.rewards.base import Reduction, RewardModel, TorchRewardModel
from rr_gym.rewards.gradient_matching import (
    EvalPoint,
    GradientMatchingTrainer,
    MatchTarget,
    NoisySource,
)
from rr_gym.rewards.network import WindowRewardNet
from rr_gym.rewards.relative import RelativeRewardModel
from rr_gym.rewards.reward_gradient import RewardGradient
from rr_gym.rewards.true_reward import PointMazeTrueReward

__all__ = [
    "EvalPoint",
    "GradientMatchingTrainer",
    "MatchTarget",
    "NoisySource",
    "PointMazeTrueReward",
    "Reduction",
    "RelativeRewardModel",
    "RewardGradient",
    "RewardModel",
    "TorchRewardModel",
    "WindowRewardNet",
]
