"""Planning with diffusion models: a reward-guided planner (evaluate it, like any policy,
with :func:`rr_gym.envs.evaluate_policy`)."""

from rr_gym.planning.planner import DiffusionPlanner, Plan

__all__ = ["DiffusionPlanner", "Plan"]
