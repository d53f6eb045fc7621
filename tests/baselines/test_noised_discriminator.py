"""The paper's baseline: a time-conditioned discriminator on noised windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import rr_gym
from rr_gym.baselines import NoisedDiscriminatorReward, train_noised_discriminator
from rr_gym.baselines.noised_discriminator import NoisedDiscriminatorTrainer
from rr_gym.diffusion import GuideFn, NoiseSchedule
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.planning import DiffusionPlanner
from rr_gym.rewards import RewardGradient
from rr_gym.trainer import TrainConfig
from rr_gym.utils.seeding import seeded
from tests._factories import mlp_diffusion

RNG = np.random.default_rng(1)
BASE = RNG.normal(0.0, 1.0, size=(2000, 2))
EXPERT = RNG.normal(2.0, 0.5, size=(2000, 2))
OPTIONS = {"hidden_dim": 32, "depth": 2, "time_dim": 8, "device": "cpu", "progress": False}


@pytest.fixture(scope="module")
def trained() -> NoisedDiscriminatorReward:
    return train_noised_discriminator(
        BASE, EXPERT, schedule=NoiseSchedule(20), steps=300, batch_size=128, **OPTIONS
    ).reward


def test_separates_clean_data_and_forgets_at_high_noise(trained: NoisedDiscriminatorReward) -> None:
    norm = trained.normalizer
    expert = torch.as_tensor(norm.normalize(RNG.normal(2.0, 0.5, (500, 1, 2))), dtype=torch.float32)
    base = torch.as_tensor(norm.normalize(RNG.normal(0.0, 1.0, (500, 1, 2))), dtype=torch.float32)
    with torch.no_grad():
        acc0 = 0.5 * (
            (trained(expert, 0) > 0).float().mean() + (trained(base, 0) < 0).float().mean()
        )
    assert acc0 > 0.85
    # At t = 0 the gradient points from the base towards the expert blob (raw mean (2, 2)).
    grad = trained.gradient(base, 0).mean(0)[0]
    assert torch.all(grad > 0)


def test_gradient_at_any_t_is_a_guide(trained: NoisedDiscriminatorReward) -> None:
    guide = RewardGradient(trained)
    assert isinstance(guide, GuideFn)
    x = torch.randn(5, 1, 2)
    for t in (torch.zeros(5, dtype=torch.long), torch.arange(5) * 4, torch.full((5,), 19)):
        g = guide(x, t)
        assert g.shape == (5, 1, 2) and torch.isfinite(g).all()


def test_takes_schedule_layout_and_normalizer_from_the_diffusion_model() -> None:
    layout = TransitionLayout.from_sizes(observation=2, action=1)
    windows = RNG.normal(size=(300, 4, 3))
    norm = Normalizer.fit(windows)
    model = mlp_diffusion(horizon=4, dim=3, n_steps=10, layout=layout, normalizer=norm)
    result = train_noised_discriminator(
        windows, windows + 1.0, diffusion=model, steps=3, batch_size=16, **OPTIONS
    )
    reward = result.reward
    assert reward.schedule == model.schedule.to_dict()
    assert reward.layout == layout and reward.normalizer == norm
    planner = DiffusionPlanner(model, guide=reward, sampler="ddim", n_steps=3, scale=0.1)
    assert planner.predict(np.zeros(2)).shape == (1,)
    # A guide for another schedule is refused by the planner.
    other = train_noised_discriminator(
        windows,
        windows + 1.0,
        schedule=NoiseSchedule(7),
        horizon=4,
        layout=layout,
        normalizer=norm,
        steps=1,
        batch_size=16,
        **OPTIONS,
    ).reward
    with pytest.raises(IncompatibleModelsError, match="schedule"):
        DiffusionPlanner(model, guide=other)


def test_save_and_load_keep_the_schedule(
    trained: NoisedDiscriminatorReward, tmp_path: Path
) -> None:
    trained.save(tmp_path / "nd")
    loaded = rr_gym.load(tmp_path / "nd")
    assert isinstance(loaded, NoisedDiscriminatorReward)
    assert loaded.schedule == trained.schedule
    x = RNG.normal(size=(6, 2))
    for t in (0, 10):
        np.testing.assert_array_equal(loaded.predict(x, t=t), trained.predict(x, t=t))


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    def make(steps: int, d: Path, seed: int = 0, **kw: object) -> NoisedDiscriminatorTrainer:
        reward = seeded(
            lambda: NoisedDiscriminatorReward(
                TransitionLayout.flat(2),
                hidden_dim=16,
                depth=1,
                time_dim=8,
                schedule=NoiseSchedule(10).to_dict(),
            ),
            seed,
        )
        config = TrainConfig(
            steps=steps, batch_size=16, log_every=3, progress=False, checkpoint_dir=str(d), **kw
        )  # type: ignore[arg-type]
        data = torch.as_tensor(BASE[:100, None], dtype=torch.float32)
        return NoisedDiscriminatorTrainer(reward, data + 1, data, config, torch.device("cpu"))

    full = make(12, tmp_path / "full", checkpoint_every=6)
    full.fit()
    make(6, tmp_path / "split").fit()
    resumed = make(12, tmp_path / "split", seed=3)
    resumed.fit(resume=True)
    for key, value in full.module.state_dict().items():
        assert torch.equal(value, resumed.module.state_dict()[key]), key
    assert full.history == resumed.history


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError, match=r"exactly one of diffusion= .* or schedule="):
        train_noised_discriminator(BASE, EXPERT, steps=1, **OPTIONS)
    with pytest.raises(DataError, match="expert data has transition dim 3 but base data has 2"):
        train_noised_discriminator(
            BASE, RNG.normal(size=(50, 3)), schedule=NoiseSchedule(5), steps=1, **OPTIONS
        )
    with pytest.raises(DataError, match="fewer than the 128"):
        train_noised_discriminator(
            BASE, EXPERT[:20], schedule=NoiseSchedule(5), steps=1, batch_size=256, **OPTIONS
        )
    with pytest.raises(ConfigError, match="needs the noise schedule"):
        NoisedDiscriminatorReward(TransitionLayout.flat(2))
