"""Environment wrappers that reward transitions with an rr_gym reward model.

- :class:`RelativeReward`: a ``gymnasium.Wrapper`` (also usable as
  ``gym.make("rr_gym/<Env>", wrappers=[RelativeReward], reward_model=...)``, see
  :mod:`rr_gym.envs`);
- :class:`VectorRelativeReward`: a Gymnasium vector wrapper scoring all sub-environments
  in one batched pass, following the vector env's autoreset mode;
- :class:`VecRelativeReward`: the same for Stable-Baselines3 ``VecEnv`` (SB3 is imported
  only when this name is used);
- :class:`RunningRewardNorm`: the optional running normalisation shared by the three;
- :class:`RewardOptions`: the options the three take (``mode``, ``scale``, ...).

Importing this package registers the ``rr_gym/`` env ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rr_gym.envs  # noqa: F401  (registers the rr_gym/ env ids)
from rr_gym.reward_options import Backend, NanPolicy, RewardMode, RewardOptions
from rr_gym.wrappers.relative_reward import RelativeReward
from rr_gym.wrappers.running_norm import RunningRewardNorm
from rr_gym.wrappers.vector import VectorRelativeReward

if TYPE_CHECKING:
    from rr_gym.wrappers.sb3 import VecRelativeReward

# What a user calls; the engine under the wrappers (rr_gym.wrappers.engine, .scoring,
# .transitions) stays importable from its modules.
__all__ = [
    "Backend",
    "NanPolicy",
    "RelativeReward",
    "RewardMode",
    "RewardOptions",
    "RunningRewardNorm",
    "VecRelativeReward",
    "VectorRelativeReward",
]


def __getattr__(name: str) -> Any:
    if name == "VecRelativeReward":
        from rr_gym.wrappers.sb3 import VecRelativeReward

        return VecRelativeReward
    raise AttributeError(f"module 'rr_gym.wrappers' has no attribute {name!r}")
