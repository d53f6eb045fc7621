"""The digits analogue of the paper's Stable Diffusion experiment, on scikit-learn's 8x8 digits.

Mirroring Stable Diffusion (base) vs Safe Latent Diffusion (expert): the base model learns
every digit, the "safe" expert model every digit but one harmful class ``K``; the relative
reward extracted between them should rank held-out images of ``K`` lower, and guiding the
base model with it should lower the share of ``K`` among its samples toward the expert's.
A classifier trained on the real digits labels the generated images.

Every image comes from ``sklearn.datasets.load_digits`` (shipped with scikit-learn, no
download): 1,797 images of 8x8 pixels with values 0..16, mapped to ``[-1, 1]``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rr_gym.diffusion.guidance import GuidanceConfig
from rr_gym.errors import ConfigError
from rr_gym.images.diffusion import ImageDiffusion
from rr_gym.images.extraction import (
    default_unet_config,
    extract_image_reward,
    train_image_diffusion,
)
from rr_gym.images.reward import ImageReward
from rr_gym.utils.io import atomic_write_bytes, atomic_write_text

__all__ = ["DigitsConfig", "DigitsData", "load_digit_images", "run_digits"]

logger = logging.getLogger(__name__)

N_CLASSES = 10


@dataclass(frozen=True)
class DigitsData:
    """The digits split into training and held-out images.

    Attributes:
        train_x, test_x: images ``(N, 1, 8, 8)`` in ``[-1, 1]``.
        train_y, test_y: their classes ``(N,)`` in ``0..9``.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def load_digit_images(seed: int = 0, test_share: float = 0.25) -> DigitsData:
    """scikit-learn's digits as images in ``[-1, 1]``, split per class (stratified) by ``seed``.

    Example:
        >>> data = load_digit_images(seed=0)
        >>> data.train_x.shape[1:], float(data.train_x.min()), float(data.train_x.max())
        ((1, 8, 8), -1.0, 1.0)
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype(np.float32) / 8.0 - 1.0)[:, None]
    y = digits.target.astype(np.int64)
    train_x, test_x, train_y, test_y = train_test_split(
        x, y, test_size=test_share, random_state=seed, stratify=y
    )
    return DigitsData(train_x, train_y, test_x, test_y)


@dataclass(frozen=True)
class DigitsConfig:
    """Sizes of one digits run (defaults: under 10 minutes on 2 CPU cores).

    Attributes:
        harmful: the class the expert never sees.
        seed: seeds the split, the models, the reward and the samples.
        diffusion_steps: training steps of each diffusion model.
        reward_steps: gradient-matching steps.
        n_diffusion_steps: T of the shared (linear) schedule.
        target: the gradient-matching target (``score`` or ``posterior_mean``).
        samples: images drawn from each generator.
        scale: guidance scale (variance-scaled, so 1 turns base into expert in theory).
        batch_size: training batch size.
        unet_channels: block widths of both models' ``UNet2DModel``.
        reward_channels: block widths of the reward's convolutional network.
    """

    harmful: int
    seed: int = 0
    diffusion_steps: int = 3000
    reward_steps: int = 1500
    n_diffusion_steps: int = 100
    target: str = "score"
    samples: int = 1000
    scale: float = 1.0
    batch_size: int = 64
    unet_channels: tuple[int, ...] = (16, 32)
    reward_channels: tuple[int, ...] = (16, 32)

    def __post_init__(self) -> None:
        if not (isinstance(self.harmful, int) and 0 <= self.harmful < N_CLASSES):
            raise ConfigError(f"harmful={self.harmful!r}; expected a digit class 0..9")
        for name in ("diffusion_steps", "reward_steps", "n_diffusion_steps", "samples"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}={value!r}; expected a positive integer")
        for name in ("unet_channels", "reward_channels"):
            value = tuple(getattr(self, name))
            if not value or not all(isinstance(c, int) and c >= 4 and c % 4 == 0 for c in value):
                raise ConfigError(
                    f"{name}={getattr(self, name)!r}; expected block widths, multiples of 4"
                )
            object.__setattr__(self, name, value)


def _classifier(data: DigitsData) -> tuple[Any, float]:
    """A logistic regression on the real digits' pixels, and its held-out accuracy."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(max_iter=2000)
    clf.fit(data.train_x.reshape(len(data.train_x), -1), data.train_y)
    accuracy = float(clf.score(data.test_x.reshape(len(data.test_x), -1), data.test_y))
    return clf, accuracy


def _sample(
    model: ImageDiffusion, n: int, seed: int, guide: ImageReward | None = None, scale: float = 1.0
) -> np.ndarray:
    guidance = None
    if guide is not None:
        guidance = GuidanceConfig(guide.gradient, scale=scale, scale_by_variance=True)
    generator = torch.Generator().manual_seed(seed)
    x = model.sample(n, guidance=guidance, generator=generator).x
    return x.clamp(-1, 1).cpu().numpy()


def _grid(images: np.ndarray, path: Path, title: str, columns: int = 20) -> None:
    """Save ``images`` ``(N, 1, 8, 8)`` as one PNG grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    rows = max(1, -(-n // columns))
    canvas = np.ones((rows * 9 - 1, columns * 9 - 1), np.float32)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        canvas[r * 9 : r * 9 + 8, c * 9 : c * 9 + 8] = (image[0] + 1) / 2
    for i in range(n, rows * columns):  # the last row's empty cells stay blank
        r, c = divmod(i, columns)
        canvas[r * 9 : r * 9 + 9, c * 9 - (c > 0) : c * 9 + 9] = 0.0
    fig, ax = plt.subplots(figsize=(columns * 0.35, rows * 0.35 + 0.5))
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    from io import BytesIO

    buffer = BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def run_digits(
    config: DigitsConfig,
    out: str | Path,
    *,
    device: str = "cpu",
    progress: bool = True,
) -> dict[str, Any]:
    """Train the base and "safe" expert models, extract the reward, measure, and write
    ``out/metrics.json`` and the figures; returns the metrics.

    Metrics: ``auroc`` (held-out harmless vs harmful images ranked by the reward at t = 0;
    1 = every harmless image above every harmful one), ``harmful_share_base`` /
    ``_expert`` / ``_guided`` (share of each generator's samples the classifier calls the
    harmful class), ``classifier_accuracy`` (held-out), ``gap_closed`` (how much of the
    base-to-expert drop in harmful share guidance achieves), plus timings and the config.
    """
    from sklearn.metrics import roc_auc_score

    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    tick = time.perf_counter()
    data = load_digit_images(config.seed)
    k = config.harmful
    safe = data.train_y != k
    clf, accuracy = _classifier(data)
    unet = {
        **default_unet_config((1, 8, 8)),
        "block_out_channels": list(config.unet_channels),
        "down_block_types": ["DownBlock2D"] * len(config.unet_channels),
        "up_block_types": ["UpBlock2D"] * len(config.unet_channels),
        "norm_num_groups": min(8, config.unet_channels[0] // 4),
    }
    common = dict(
        unet_config=unet,
        steps=config.diffusion_steps,
        n_diffusion_steps=config.n_diffusion_steps,
        batch_size=config.batch_size,
        device=device,
        progress=progress,
    )
    base = train_image_diffusion(data.train_x, seed=config.seed, **common)  # type: ignore[arg-type]
    expert = train_image_diffusion(data.train_x[safe], seed=config.seed + 1, **common)  # type: ignore[arg-type]
    trained = time.perf_counter()
    reward = extract_image_reward(
        base,
        expert,
        data.train_x,
        steps=config.reward_steps,
        channels=config.reward_channels,
        target=config.target,  # type: ignore[arg-type]
        batch_size=config.batch_size,
        seed=config.seed,
        device=device,
        progress=progress,
    )
    extracted = time.perf_counter()
    scores = reward.predict(data.test_x, t=0)
    harmless = (data.test_y != k).astype(int)
    auroc = float(roc_auc_score(harmless, scores))
    samples = {
        "base": _sample(base, config.samples, config.seed),
        "expert": _sample(expert, config.samples, config.seed),
        "guided": _sample(base, config.samples, config.seed, reward, config.scale),
    }
    shares = {
        name: float(np.mean(clf.predict(x.reshape(len(x), -1)) == k)) for name, x in samples.items()
    }
    drop = shares["base"] - shares["expert"]
    metrics: dict[str, Any] = {
        "harmful": k,
        "seed": config.seed,
        "auroc": auroc,
        "harmful_share_base": shares["base"],
        "harmful_share_expert": shares["expert"],
        "harmful_share_guided": shares["guided"],
        "gap_closed": float((shares["base"] - shares["guided"]) / drop) if drop > 0 else None,
        "classifier_accuracy": accuracy,
        "n_train_base": len(data.train_x),
        "n_train_expert": int(safe.sum()),
        "mean_reward_harmful": float(scores[harmless == 0].mean()),
        "mean_reward_harmless": float(scores[harmless == 1].mean()),
        "seconds_diffusion": trained - tick,
        "seconds_reward": extracted - trained,
        "seconds_total": time.perf_counter() - tick,
        "config": asdict(config),
    }
    order = np.argsort(-scores)
    _grid(
        data.test_x[order],
        out / "figures" / "heldout_by_reward.png",
        f"held-out digits by relative reward, highest first (harmful class {k})",
    )
    for name, x in samples.items():
        _grid(
            x[:200],
            out / "figures" / f"samples_{name}.png",
            f"{name} samples: harmful share {shares[name]:.3f}",
        )
    base.save(out / "models" / "base")
    expert.save(out / "models" / "expert")
    reward.save(out / "models" / "reward")
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    return metrics
