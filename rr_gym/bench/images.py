"""The bench's images stage: the digits analogue of the paper's Stable Diffusion experiment.

One unit per (image pair, seed) runs :func:`rr_gym.images.digits.run_digits` (base model of
every digit, "safe" expert without the pair's harmful class, the relative reward between
them, held-out ranking and guided sampling) and stores its metrics as result rows of the
``relative_reward`` method; claim (d) of :mod:`rr_gym.bench.claims` reads them.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from rr_gym.bench.context import row

__all__ = ["IMAGE_METRICS", "digits_config", "images_unit"]

#: The metrics of a digits run kept as result rows.
IMAGE_METRICS = (
    "auroc",
    "harmful_share_base",
    "harmful_share_guided",
    "harmful_share_expert",
    "gap_closed",
    "classifier_accuracy",
)


def digits_config(pair: Any, seed: int) -> dict[str, Any]:
    """The full :class:`~rr_gym.images.digits.DigitsConfig` of ``pair`` at ``seed`` (its
    ``options["harmful"]`` class, its ``sizes.digits`` over the defaults), as the unit's
    cache key hashes it.

    Raises:
        ConfigError: a size the experiment does not accept.
    """
    from rr_gym.images.digits import DigitsConfig

    sizes = dict(pair.sizes.get("digits") or {})
    config = DigitsConfig(harmful=int(pair.options["harmful"]), seed=int(seed), **sizes)
    return asdict(config)


def images_unit(
    pair: Any, seed: int, out_dir: Path, *, device: str = "cpu", progress: bool = False
) -> list[dict[str, Any]]:
    """Run the digits experiment of ``pair`` at ``seed`` (:func:`digits_config`) into
    ``out_dir``; its metrics as result rows."""
    from rr_gym.images.digits import DigitsConfig, run_digits

    config = DigitsConfig(**digits_config(pair, seed))
    metrics = run_digits(config, out_dir, device=device, progress=progress)
    seconds = float(metrics["seconds_total"])
    return [
        row(pair.name, "relative_reward", seed, name, metrics[name], seconds)
        for name in IMAGE_METRICS
        if metrics.get(name) is not None
    ]
