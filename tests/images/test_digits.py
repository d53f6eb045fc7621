"""The digits analogue end to end at tiny sizes, its configuration and its command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rr_gym.errors import ConfigError
from rr_gym.images import ImageDiffusion, ImageReward
from rr_gym.images.cli import main
from rr_gym.images.digits import DigitsConfig, load_digit_images, run_digits

TINY = dict(
    diffusion_steps=15,
    reward_steps=15,
    n_diffusion_steps=8,
    samples=40,
    batch_size=32,
    unet_channels=(8, 16),
    reward_channels=(8, 16),
)


def test_digits_are_split_per_class_into_pixels_in_minus_one_one() -> None:
    data = load_digit_images(seed=0)
    assert data.train_x.shape[1:] == (1, 8, 8) and len(data.train_x) + len(data.test_x) == 1797
    assert data.train_x.min() == -1.0 and data.train_x.max() == 1.0
    # stratified: every class in both parts, in about the same proportion
    train, test = np.bincount(data.train_y), np.bincount(data.test_y)
    assert (train > 100).all() and (test > 30).all()
    assert np.abs(train / train.sum() - test / test.sum()).max() < 0.01
    again = load_digit_images(seed=0)
    np.testing.assert_array_equal(again.test_y, data.test_y)


def test_bad_configs_name_the_value() -> None:
    with pytest.raises(ConfigError, match=r"harmful=10; expected a digit class 0\.\.9"):
        DigitsConfig(harmful=10)
    with pytest.raises(ConfigError, match="reward_steps=0"):
        DigitsConfig(harmful=1, reward_steps=0)
    with pytest.raises(ConfigError, match=r"unet_channels=\(6,\); expected block widths"):
        DigitsConfig(harmful=1, unet_channels=(6,))
    assert DigitsConfig(harmful=1, unet_channels=[16, 32]).unet_channels == (16, 32)


def test_a_tiny_run_writes_metrics_figures_and_models(tmp_path) -> None:
    metrics = run_digits(DigitsConfig(harmful=3, **TINY), tmp_path, progress=False)
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk["auroc"] == metrics["auroc"] and on_disk["harmful"] == 3
    for key in ("auroc", "harmful_share_base", "harmful_share_expert", "harmful_share_guided"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["classifier_accuracy"] > 0.9  # a logistic regression on real digits
    assert metrics["n_train_base"] - metrics["n_train_expert"] == int(
        (load_digit_images(0).train_y == 3).sum()
    )
    for name in ("heldout_by_reward", "samples_base", "samples_expert", "samples_guided"):
        assert (tmp_path / "figures" / f"{name}.png").stat().st_size > 500
    base = ImageDiffusion.load(tmp_path / "models" / "base")
    reward = ImageReward.load(tmp_path / "models" / "reward")
    assert base.sample_shape == (1, 8, 8) and reward.predict(np.zeros((2, 1, 8, 8))).shape == (2,)


def test_command_line_runs_and_refuses_bad_input(tmp_path, capsys) -> None:
    args = [
        "--seed",
        "1",
        "--out",
        str(tmp_path),
        "--no-progress",
        "--diffusion-steps",
        "10",
        "--reward-steps",
        "10",
        "--n-diffusion-steps",
        "5",
        "--samples",
        "20",
        "--batch-size",
        "16",
        "--unet-channels",
        "8,16",
        "--reward-channels",
        "8,16",
    ]
    assert main(["--harmful", "5", *args]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["harmful"] == 5 and "config" not in printed
    assert (tmp_path / "metrics.json").is_file()
    assert main(["--harmful", "12", *args]) == 2
    assert "harmful=12; expected a digit class 0..9" in capsys.readouterr().err
