"""Relative rewards between image diffusion models (the paper's Stable Diffusion experiment).

Image models are diffusers UNets under an rr_gym noise schedule (:class:`ImageDiffusion`);
the relative reward (:class:`ImageReward`, a time-conditioned convolutional network) is
trained by the same gradient-matching trainer as for trajectories. Needs the ``images``
extra (``pip install 'rr_gym[images]'``: diffusers, scikit-learn).
"""

from rr_gym.images.diffusion import UNET_CLASSES, ImageDiffusion, build_unet
from rr_gym.images.extraction import (
    ImageDiffusionTrainer,
    default_unet_config,
    extract_image_reward,
    train_image_diffusion,
)
from rr_gym.images.guidance import GuidedImageDiffusion, SafetyGuidance
from rr_gym.images.pretrained import load_pretrained
from rr_gym.images.reward import ImageReward

__all__ = [
    "UNET_CLASSES",
    "GuidedImageDiffusion",
    "ImageDiffusion",
    "ImageDiffusionTrainer",
    "ImageReward",
    "SafetyGuidance",
    "build_unet",
    "default_unet_config",
    "extract_image_reward",
    "load_pretrained",
    "train_image_diffusion",
]
