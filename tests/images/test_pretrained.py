"""Pretrained weights from local diffusers folders only: loaded as saved, refused fast and
clearly when missing, pickled or of an unsupported kind."""

from __future__ import annotations

import json

import pytest
import torch
from diffusers import DDIMScheduler

from rr_gym.errors import CheckpointError, ConfigError, WeightsNotFoundError
from rr_gym.images import load_pretrained
from tests.images._unets import conditional_unet


def _pipeline_folder(root, *, safe: bool = True, prediction: str = "epsilon"):
    unet = conditional_unet(6)
    unet.save_pretrained(root / "unet", safe_serialization=safe)
    scheduler = DDIMScheduler(  # Stable Diffusion 1.x's schedule
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type=prediction,
    )
    scheduler.save_pretrained(root / "scheduler")
    return unet


def test_a_local_pipeline_folder_loads_as_saved(tmp_path) -> None:
    unet = _pipeline_folder(tmp_path)
    model = load_pretrained(tmp_path)
    assert model.conditional and model.predict_epsilon and model.clip_denoised is None
    assert model.n_steps == 1000 and model.schedule.kind == "scaled_linear"
    x, t, emb = torch.randn(2, 4, 8, 8), torch.tensor([999, 10]), torch.randn(2, 3, 6)
    with torch.no_grad():
        want = unet(x, t, encoder_hidden_states=emb).sample
        got = model.estimate(x, t, encoder_hidden_states=emb).eps
    torch.testing.assert_close(got, want)


def test_missing_weights_fail_fast_without_a_download(tmp_path) -> None:
    with pytest.raises(WeightsNotFoundError, match=r"looks like a hub id.*local folders only"):
        load_pretrained("AIML-TUDA/stable-diffusion-safe")
    with pytest.raises(WeightsNotFoundError, match="huggingface-cli download"):
        load_pretrained(tmp_path / "nowhere")
    (tmp_path / "unet").mkdir()
    with pytest.raises(WeightsNotFoundError, match=r"unet/config.json is missing"):
        load_pretrained(tmp_path)


def test_pickled_weights_are_never_loaded(tmp_path) -> None:
    _pipeline_folder(tmp_path, safe=False)
    with pytest.raises(
        CheckpointError, match=r"only pickled weights \['diffusion_pytorch_model.bin'\]"
    ):
        load_pretrained(tmp_path)


def test_unsupported_prediction_type_is_refused(tmp_path) -> None:
    _pipeline_folder(tmp_path, prediction="v_prediction")
    with pytest.raises(ConfigError, match="prediction_type='v_prediction'"):
        load_pretrained(tmp_path)
    config = tmp_path / "unet" / "config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "_class_name": "Other"}))
    with pytest.raises(ConfigError, match="is a Other"):
        load_pretrained(tmp_path)
