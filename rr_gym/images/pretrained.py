"""Pretrained image diffusion models from local diffusers folders (e.g. Stable Diffusion).

rr_gym never downloads weights: :func:`load_pretrained` reads a folder laid out as
diffusers saves a pipeline (``unet/``, ``scheduler/``), loads safetensors weights only
(nothing is unpickled) and fails at once, naming the folder and how to get it, when they
are not there. docs/images.md walks through the Stable Diffusion recipe.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from rr_gym.diffusion.schedule import NoiseSchedule
from rr_gym.errors import CheckpointError, ConfigError, WeightsNotFoundError
from rr_gym.images.diffusion import UNET_CLASSES, ImageDiffusion

__all__ = ["load_pretrained"]

_FETCH = (
    "rr_gym loads weights from local folders only (nothing is downloaded at run time). On "
    "a machine with internet access: `huggingface-cli download <repo id> --local-dir DIR "
    "--include 'unet/*' 'scheduler/*'` (e.g. AIML-TUDA/stable-diffusion-safe), then pass DIR"
)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is not a readable JSON config: {exc}") from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{path} holds a {type(data).__name__}; expected a JSON object")
    return data


def load_pretrained(
    path: str | os.PathLike[str],
    *,
    unet_subfolder: str = "unet",
    scheduler_subfolder: str = "scheduler",
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    clip_denoised: float | None = None,
) -> ImageDiffusion:
    """The UNet and noise schedule of a local diffusers pipeline folder as an
    :class:`ImageDiffusion` (e.g. Stable Diffusion's latent model).

    Args:
        path: the pipeline folder (holding ``unet/`` and ``scheduler/``).
        unet_subfolder, scheduler_subfolder: where the network and the scheduler config are.
        device, dtype: where and in which precision to load the weights.
        clip_denoised: clip of predicted clean samples while sampling (None for latents).

    Raises:
        WeightsNotFoundError: ``path`` or its UNet weights are not on this machine (also for
            a hub id, which is never fetched).
        CheckpointError: only pickled (``.bin``) weights, or configs that do not load.
        ConfigError: a network class or prediction type rr_gym does not support.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        hint = " (it looks like a hub id)" if "/" in str(path) and not root.exists() else ""
        raise WeightsNotFoundError(f"no local folder {str(path)!r}{hint}. {_FETCH}")
    unet_dir, sched_dir = root / unet_subfolder, root / scheduler_subfolder
    config_path, sched_path = unet_dir / "config.json", sched_dir / "scheduler_config.json"
    for needed in (config_path, sched_path):
        if not needed.is_file():
            raise WeightsNotFoundError(
                f"{needed} is missing; expected a diffusers folder. {_FETCH}"
            )
    if not any(unet_dir.glob("*.safetensors")):
        pickled = sorted(p.name for p in unet_dir.glob("*.bin"))
        if pickled:
            raise CheckpointError(
                f"{unet_dir} has only pickled weights {pickled}; rr_gym loads safetensors only "
                "(never unpickles): convert them with diffusers (load, then save_pretrained "
                "with safe_serialization=True) on a machine you trust"
            )
        raise WeightsNotFoundError(f"{unet_dir} holds no *.safetensors weights. {_FETCH}")
    name = _read_json(config_path).get("_class_name", "UNet2DConditionModel")
    if name not in UNET_CLASSES:
        raise ConfigError(f"{config_path} is a {name}; expected one of {list(UNET_CLASSES)}")
    scheduler = _read_json(sched_path)
    prediction = scheduler.get("prediction_type", "epsilon")
    if prediction not in ("epsilon", "sample"):
        raise ConfigError(
            f"{sched_path} has prediction_type={prediction!r}; rr_gym supports 'epsilon' (Stable "
            "Diffusion 1.x) and 'sample'"
        )
    import diffusers

    try:
        unet = getattr(diffusers, name).from_pretrained(
            root,
            subfolder=unet_subfolder,
            local_files_only=True,
            use_safetensors=True,
            torch_dtype=dtype,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"the UNet in {unet_dir} does not load: {exc}") from exc
    model = ImageDiffusion(
        unet,
        NoiseSchedule.from_diffusers(scheduler),
        predict_epsilon=prediction == "epsilon",
        clip_denoised=clip_denoised,
        metadata={"pretrained": str(root.resolve())},
    )
    return model.to(device).eval()
