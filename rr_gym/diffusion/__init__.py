"""Trajectory diffusion models: schedule, denoisers, GaussianDiffusion, training."""

from rr_gym.diffusion.conditioning import Inpainting
from rr_gym.diffusion.denoiser import Denoiser, build_denoiser
from rr_gym.diffusion.gaussian import (
    GaussianDiffusion,
    Prediction,
    Sampler,
    SampleResult,
    check_compatible,
)
from rr_gym.diffusion.guidance import GuidanceConfig, GuideFn
from rr_gym.diffusion.mlp import MLPDenoiser
from rr_gym.diffusion.schedule import NoiseSchedule, Posterior
from rr_gym.diffusion.unet import TemporalUnet

__all__ = [
    "Denoiser",
    "GaussianDiffusion",
    "GuidanceConfig",
    "GuideFn",
    "Inpainting",
    "MLPDenoiser",
    "NoiseSchedule",
    "Posterior",
    "Prediction",
    "SampleResult",
    "Sampler",
    "TemporalUnet",
    "build_denoiser",
    "check_compatible",
]
