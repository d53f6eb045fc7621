"""Gymnasium ids in the ``rr_gym/`` namespace: any registered env plus ``wrappers=[...]``.

Importing this package registers ``rr_gym/PointMaze_*-v3`` and the MuJoCo ``-v5`` tasks
(``rr_gym/Hopper-v5``...); :func:`register_wrapped` adds any other id. See
:mod:`rr_gym.envs.registration`.
"""

from rr_gym.envs.registration import (
    DEFAULT_BASE_IDS,
    NAMESPACE,
    held_wrapper_kwargs,
    make_wrapped_env,
    register_wrapped,
    wrapped_id,
)

__all__ = [
    "DEFAULT_BASE_IDS",
    "NAMESPACE",
    "held_wrapper_kwargs",
    "make_wrapped_env",
    "register_wrapped",
    "wrapped_id",
]
