"""ImageDiffusion: diffusers UNets under rr_gym's schedule; shapes, checkpoints, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers import DDPMScheduler, UNet2DModel

import rr_gym
from rr_gym.diffusion import NoiseSchedule
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.images import ImageDiffusion, build_unet, default_unet_config
from tests.images._unets import conditional_unet


def _unet(size: int = 8, channels: int = 1) -> UNet2DModel:
    torch.manual_seed(0)
    return build_unet(
        "UNet2DModel",
        {
            **default_unet_config((channels, size, size)),
            "block_out_channels": [8, 16],
            "norm_num_groups": 4,
        },
    )


def _model(
    size: int = 8, channels: int = 1, schedule: NoiseSchedule | None = None
) -> ImageDiffusion:
    return ImageDiffusion(_unet(size, channels), schedule or NoiseSchedule(10, "linear"))


@pytest.mark.parametrize(
    ("kwargs", "kind"),
    [
        ({"beta_schedule": "linear"}, "linear"),
        (
            {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012},
            "scaled_linear",
        ),
        ({"beta_schedule": "squaredcos_cap_v2"}, "cosine"),
    ],
)
def test_schedule_from_diffusers_has_the_schedulers_betas(kwargs, kind) -> None:
    scheduler = DDPMScheduler(num_train_timesteps=50, **kwargs)
    schedule = NoiseSchedule.from_diffusers(scheduler)
    assert schedule.kind == kind and schedule.n_steps == 50
    np.testing.assert_allclose(
        schedule.array("betas"), scheduler.betas.numpy(), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        schedule.array("alphas_cumprod"), scheduler.alphas_cumprod.numpy(), rtol=1e-5, atol=1e-6
    )  # diffusers computes in float32


def test_schedule_from_diffusers_refuses_unknown_betas() -> None:
    with pytest.raises(ConfigError, match="beta_schedule='sigmoid'"):
        NoiseSchedule.from_diffusers({"beta_schedule": "sigmoid"})


def test_checkpoint_round_trip_gives_the_same_outputs(tmp_path) -> None:
    model = _model()
    model.save(tmp_path / "m")
    loaded = rr_gym.load(tmp_path / "m")
    assert isinstance(loaded, ImageDiffusion) and loaded.schedule == model.schedule
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 4, 9])
    torch.testing.assert_close(loaded.estimate(x, t).eps, model.estimate(x, t).eps)


def test_bad_images_are_refused_with_the_expected_shape() -> None:
    model = _model()
    with pytest.raises(DataError, match=r"\(4, 3, 8, 8\).*expected \(B, 1, 8, 8\)"):
        model.loss(torch.zeros(4, 3, 8, 8))  # wrong channel count
    with pytest.raises(DataError, match=r"expected \(B, 1, 8, 8\)"):
        model.loss(torch.zeros(4, 1, 16, 16))
    bad = torch.zeros(4, 1, 8, 8)
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(DataError, match="1 NaN or infinite"):
        model.loss(bad)


def test_models_of_different_schedules_or_sizes_are_incompatible() -> None:
    model = _model()
    with pytest.raises(IncompatibleModelsError, match="noise schedule"):
        model.check_compatible(_model(schedule=NoiseSchedule(20, "linear")))
    with pytest.raises(IncompatibleModelsError, match="sample shape"):
        model.check_compatible(_model(size=16))


def test_conditional_unet_takes_prompt_embeddings() -> None:
    unet = conditional_unet(12, attention_head_dim=4)
    model = ImageDiffusion(
        unet,
        NoiseSchedule(10, "scaled_linear", beta_start=0.00085, beta_end=0.012),
        clip_denoised=None,
    )
    prompts = torch.randn(2, 5, 12)
    out = model.sample(2, model_kwargs={"encoder_hidden_states": prompts}).x
    assert out.shape == (2, 4, 8, 8) and torch.isfinite(out).all()
    with pytest.raises(ConfigError, match="encoder_hidden_states"):
        model.sample(2)
    with pytest.raises(IncompatibleModelsError, match="conditioning"):
        model.check_compatible(_model(channels=4, schedule=model.schedule))


def test_only_diffusers_unets_are_accepted() -> None:
    with pytest.raises(ConfigError, match="expected a diffusers UNet2DModel"):
        ImageDiffusion(torch.nn.Conv2d(1, 1, 3), NoiseSchedule(10))
