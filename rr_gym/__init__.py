"""rr_gym: reward extraction from diffusion models, and an IRL benchmark on Gymnasium 1.x.

Implements "Extracting Reward Functions from Diffusion Models" (Nuti, Franzmeyer,
Henriques, NeurIPS 2023). Quick start::

    import rr_gym
    base = rr_gym.train_diffusion(base_windows, horizon=32, steps=20_000)
    expert = rr_gym.train_diffusion(expert_windows, horizon=32, steps=20_000)
    reward = rr_gym.extract_reward(base, expert, base_windows, steps=10_000)
    reward.predict(windows, t=0)  # (N,)
    reward.save("reward")
    reward = rr_gym.load("reward")
"""

from rr_gym._version import __version__

__all__ = ["__version__"]
