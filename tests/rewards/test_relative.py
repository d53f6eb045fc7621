"""RelativeRewardModel: checkpoints of a trained reward through ``rr_gym.load``, and what
a reward checkpoint must carry. Damaged checkpoints in general: tests/test_checkpoint.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import rr_gym
from rr_gym.checkpoint import CONFIG_FILE, _header_digest
from rr_gym.diffusion import NoiseSchedule
from rr_gym.diffusion.analytic import GaussianMixtureDiffusion
from rr_gym.errors import CheckpointError, ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import GradientMatchingTrainer, RelativeRewardModel
from rr_gym.trainer import TrainConfig
from tests._factories import relative_reward

LAYOUT = TransitionLayout.from_sizes(observation=2, action=1, observation_key="observation")
NORM = Normalizer(np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, 3.0]), "gaussian")


def _trained(window: int = 2) -> tuple[RelativeRewardModel, GradientMatchingTrainer]:
    """A reward trained a few steps on oracle models over windows of 3 transitions."""
    schedule = NoiseSchedule(10)
    common = {"horizon": 3, "normalizer": NORM, "layout": LAYOUT}
    base = GaussianMixtureDiffusion(np.zeros((1, 3)), np.ones((1, 3)), schedule, **common)  # type: ignore[arg-type]
    expert = GaussianMixtureDiffusion(np.full((1, 3), 0.5), np.ones((1, 3)), schedule, **common)  # type: ignore[arg-type]
    reward = relative_reward(
        LAYOUT,
        NORM,
        window=window,
        reduction="mean",
        schedule=schedule.to_dict(),
        metadata={"dataset": "toy-v0", "goal": 2},
    )
    data = torch.as_tensor(base.sample_data(64, np.random.default_rng(0)))
    config = TrainConfig(steps=3, batch_size=16, lr=1e-2, progress=False)
    trainer = GradientMatchingTrainer(
        reward,
        base,
        expert,
        data,
        config,
        torch.device("cpu"),
        target="score",
        eval_at="posterior_mean",
        l2=0.1,
    )
    trainer.fit()
    model = trainer.model()
    assert isinstance(model, RelativeRewardModel)
    return model, trainer


@pytest.mark.parametrize("device", ["cpu", torch.device("cpu")])
def test_trained_reward_round_trips_through_rr_gym_load(
    tmp_path: Path, device: str | torch.device
) -> None:
    reward, trainer = _trained()
    back = rr_gym.load(reward.save(tmp_path / "reward"), device=device)
    assert type(back) is RelativeRewardModel
    assert back.device == torch.device("cpu")
    raw = np.random.default_rng(1).normal(size=(8, 3, 3))
    for t in (0, 6):
        np.testing.assert_array_equal(back.predict(raw, t=t), reward.predict(raw, t=t))
    x = torch.as_tensor(NORM.normalize(raw), dtype=torch.float32)
    t_batch = torch.arange(8) % 10
    assert torch.equal(back.gradient(x, t_batch), reward.gradient(x, t_batch))
    assert back.layout == LAYOUT and back.layout.observation_key == "observation"
    assert back.normalizer == NORM
    assert (back.window, back.reduction) == (2, "mean")
    assert back.schedule == NoiseSchedule(10).to_dict()
    assert back.metadata == {"dataset": "toy-v0", "goal": 2}
    assert back.training_config == trainer.training_config()
    assert back.training_config["target"] == "score" and back.training_config["l2"] == 0.1
    assert back.training_config["steps_done"] == 3


def test_sidecar_records_the_reward_network_and_its_training(tmp_path: Path) -> None:
    reward, _ = _trained(window=1)
    header = json.loads((reward.save(tmp_path / "r") / CONFIG_FILE).read_text())
    assert header["class"] == "RelativeRewardModel"
    config = header["config"]
    assert (config["hidden_dim"], config["depth"], config["time_dim"]) == (16, 2, 8)
    assert (config["window"], config["reduction"]) == (1, "mean")
    assert TransitionLayout.from_dict(config["layout"]) == LAYOUT
    assert Normalizer.from_dict(config["normalizer"]) == NORM
    assert config["training"]["trainer"] == "GradientMatchingTrainer"
    assert config["training"]["eval_at"] == "posterior_mean"


def test_a_loaded_reward_can_be_trained_further(tmp_path: Path) -> None:
    back = rr_gym.load(relative_reward().save(tmp_path / "r"))
    assert all(p.requires_grad for p in back.parameters())
    base = GaussianMixtureDiffusion(np.zeros((1, 2)), np.ones((1, 2)), NoiseSchedule(10))
    expert = GaussianMixtureDiffusion(np.ones((1, 2)), np.ones((1, 2)), NoiseSchedule(10))
    before = {k: v.clone() for k, v in back.state_dict().items()}
    config = TrainConfig(steps=2, batch_size=8, ema_decay=None, progress=False)
    trainer = GradientMatchingTrainer(
        back, base, expert, torch.zeros(16, 1, 2), config, torch.device("cpu")
    )
    trainer.fit()
    assert any(not torch.equal(before[k], v) for k, v in back.state_dict().items())


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("window", 0, "window=0"),
        ("reduction", "max", "reduction='max'"),
        ("time_dim", 7, "time_dim=7"),
    ],
)
def test_invalid_reward_settings_in_the_sidecar_are_checkpoint_errors(
    tmp_path: Path, key: str, value: object, match: str
) -> None:
    path = relative_reward().save(tmp_path / "r")
    header = json.loads((path / CONFIG_FILE).read_text())
    header["config"][key] = value
    header["header_sha256"] = _header_digest(header)  # a consistent header, bad values
    (path / CONFIG_FILE).write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match=match):
        rr_gym.load(path)


@pytest.mark.parametrize(
    ("t", "match"),
    [
        (-1, "t=-1; expected an int >= 0"),
        (0.5, r"t=0.5 \(float\)"),
        (10, r"t=10; expected an int in 0..9"),
        (1000, r"t=1000; expected an int in 0..9"),
    ],
)
def test_predict_refuses_a_step_outside_the_schedule(t: object, match: str) -> None:
    reward = relative_reward(schedule=NoiseSchedule(10).to_dict())
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(ConfigError, match=match) as info:
        reward.predict(x, t=t)  # type: ignore[arg-type]
    assert "T=10" in str(info.value)
    assert reward.predict(x, t=np.int64(9)).shape == (3,)
    assert reward.predict(x, t=0).shape == (3,)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_trained_reward_loads_onto_cuda(tmp_path: Path) -> None:
    reward, _ = _trained()
    back = rr_gym.load(reward.save(tmp_path / "reward"), device="cuda")
    assert back.device.type == "cuda"
    raw = np.random.default_rng(1).normal(size=(8, 3, 3))
    np.testing.assert_allclose(back.predict(raw, t=4), reward.predict(raw, t=4), atol=1e-5)


def test_a_reward_without_a_schedule_takes_any_step_but_only_integer_ones() -> None:
    reward = relative_reward()
    assert reward.n_diffusion_steps is None
    x = np.zeros((2, 2), np.float32)
    assert reward.predict(x, t=1000).shape == (2,)
    for bad in (-1, 0.5, True):
        with pytest.raises(ConfigError, match=f"t={bad!r}"):
            reward.predict(x, t=bad)  # type: ignore[arg-type]
