"""The tiny Stable-Diffusion-shaped network shared by the image tests."""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel


def conditional_unet(cross_attention_dim: int, attention_head_dim: int = 2, seed: int = 0):
    """A randomly initialised ``UNet2DConditionModel`` over 4-channel 8x8 latents (two
    resolutions of 8 and 16 channels, cross-attention in the outer blocks), built after
    seeding torch's global RNG with ``seed``."""
    torch.manual_seed(seed)
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=attention_head_dim,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    )
