"""Planning with diffusion models: a reward-guided planner and its evaluation."""

from rr_gym.planning.evaluation import EpisodeStats, Policy, evaluate_policy
from rr_gym.planning.planner import DiffusionPlanner, Plan

__all__ = ["DiffusionPlanner", "EpisodeStats", "Plan", "Policy", "evaluate_policy"]
