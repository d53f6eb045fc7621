"""Gymnasium ids in the ``rr_gym/`` namespace: any registered env plus ``wrappers=[...]``.

Importing this package registers ``rr_gym/PointMaze_*-v3`` and the MuJoCo ``-v5`` tasks
(``rr_gym/Hopper-v5``...); :func:`register_wrapped` adds any other id. See
:mod:`rr_gym.envs.registration`. :func:`evaluate_policy` rolls any policy (a planner, an SB3
agent, a BC policy) out in vector envs and reports its episodes.
"""

from rr_gym.envs.registration import (
    DEFAULT_BASE_IDS,
    NAMESPACE,
    held_wrapper_kwargs,
    make_wrapped_env,
    register_wrapped,
    wrapped_id,
)
from rr_gym.envs.rollouts import EpisodeStats, Policy, evaluate_policy

__all__ = [
    "DEFAULT_BASE_IDS",
    "NAMESPACE",
    "EpisodeStats",
    "Policy",
    "evaluate_policy",
    "held_wrapper_kwargs",
    "make_wrapped_env",
    "register_wrapped",
    "wrapped_id",
]
