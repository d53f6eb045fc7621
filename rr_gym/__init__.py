"""rr_gym: reward extraction from diffusion models, and an IRL benchmark on Gymnasium 1.x.

Implements "Extracting Reward Functions from Diffusion Models" (Nuti, Franzmeyer,
Henriques, NeurIPS 2023). Quick start::

    import numpy as np
    import rr_gym
    from rr_gym.normalizer import Normalizer

    norm = Normalizer.fit(np.concatenate([base_windows, expert_windows]))  # one for both
    base = rr_gym.train_diffusion(base_windows, horizon=32, steps=20_000, normalizer=norm)
    expert = rr_gym.train_diffusion(expert_windows, horizon=32, steps=20_000, normalizer=norm)
    reward = rr_gym.extract_reward(base, expert, np.concatenate([base_windows, expert_windows]),
                                   steps=10_000)
    reward.predict(windows, t=0)  # (N,)
    reward.save("reward")
    reward = rr_gym.load("reward")
"""

from rr_gym._version import __version__
from rr_gym.api import extract_reward, load, train_diffusion
from rr_gym.rewards.base import RewardModel

__all__ = ["RewardModel", "__version__", "extract_reward", "load", "train_diffusion"]
