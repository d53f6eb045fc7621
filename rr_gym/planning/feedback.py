"""A planner check with a known answer: a double integrator driven by ``a = -K s + noise``.

Trajectories of ``s' = A s + B a`` (2-D state, 1-D action) under the linear feedback policy
``a = -K s + 0.05 noise``: a diffusion planner trained on their windows should act like the
policy, so the R^2 of its first actions against ``-K s`` measures whether it acts like its
data (1 = it is the policy). Used by ``tests/planning/test_planner.py`` and
``benchmarks/planner_feedback.py``.

Example:
    >>> feedback_windows(horizon=8).windows.shape
    (2112, 8, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rr_gym.data.windows import WindowDataset, windows_from_arrays
from rr_gym.layout import TransitionLayout
from rr_gym.planning.planner import DiffusionPlanner

__all__ = ["FEEDBACK_GAIN", "FEEDBACK_LAYOUT", "feedback_windows", "first_action_r2"]

#: The policy's gain ``K`` (``a = -K s``).
FEEDBACK_GAIN = np.array([[1.0, 1.5]])
#: Transitions of the system: observation 2, action 1.
FEEDBACK_LAYOUT = TransitionLayout.from_sizes(observation=2, action=1)


def feedback_windows(horizon: int, seed: int = 0) -> WindowDataset:
    """Windows of ``horizon`` transitions of 64 episodes of 40 steps from random states."""
    rng = np.random.default_rng(seed)
    dynamics, control = np.array([[1.0, 0.1], [0.0, 1.0]]), np.array([[0.0], [0.1]])
    episodes = []
    for _ in range(64):
        state, rows = rng.uniform(-2, 2, 2), []
        for _ in range(40):
            action = -FEEDBACK_GAIN @ state + 0.05 * rng.normal(size=1)
            rows.append(np.concatenate([state, action]))
            state = dynamics @ state + control @ action
        episodes.append(np.array(rows, np.float32))
    rewards = [np.zeros(len(e)) for e in episodes]
    return windows_from_arrays(episodes, rewards, horizon=horizon, layout=FEEDBACK_LAYOUT)


def first_action_r2(model: Any, seed: int = 1) -> float:
    """R^2 of a planner's first actions at 256 random states against the policy's ``-K s``.

    Args:
        model: a :class:`~rr_gym.diffusion.GaussianDiffusion` trained on
            :func:`feedback_windows`.
        seed: seeds the states.
    """
    states = np.random.default_rng(seed).uniform(-2, 2, (256, 2)).astype(np.float32)
    actions = DiffusionPlanner(model, seed=0).predict(states)
    target = -(states @ FEEDBACK_GAIN.T)
    return float(1 - ((actions - target) ** 2).sum() / ((target - target.mean()) ** 2).sum())
