"""Rewards: the RewardModel protocol, the relative reward and its gradient-matching trainer."""

from rr_gym.rewards.base import Reduction, RewardModel, TorchRewardModel
from rr_gym.rewards.gradient_matching import (
    EvalPoint,
    GradientMatchingTrainer,
    MatchTarget,
    NoisySource,
)
from rr_gym.rewards.guide import RewardGuide
from rr_gym.rewards.network import WindowRewardNet
from rr_gym.rewards.relative import RelativeRewardModel

__all__ = [
    "EvalPoint",
    "GradientMatchingTrainer",
    "MatchTarget",
    "NoisySource",
    "Reduction",
    "RelativeRewardModel",
    "RewardGuide",
    "RewardModel",
    "TorchRewardModel",
    "WindowRewardNet",
]
