"""The offline density-ratio discriminator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import norm, pearsonr

import rr_gym
from rr_gym.baselines import DiscriminatorReward, train_discriminator
from rr_gym.baselines.discriminator import DiscriminatorTrainer
from rr_gym.data.windows import windows_from_arrays
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.trainer import TrainConfig
from rr_gym.utils.seeding import seeded

RNG = np.random.default_rng(0)
BASE = RNG.normal(0.0, 1.0, size=(3000, 2))
EXPERT = RNG.normal(1.0, 0.5, size=(600, 2))  # fewer expert points: balance must not care
OPTIONS = {"hidden_sizes": (64, 64), "device": "cpu", "progress": False}


def true_log_ratio(x: np.ndarray) -> np.ndarray:
    return norm.logpdf(x, 1.0, 0.5).sum(1) - norm.logpdf(x, 0.0, 1.0).sum(1)


@pytest.fixture(scope="module")
def trained() -> DiscriminatorReward:
    return train_discriminator(BASE, EXPERT, steps=400, batch_size=128, **OPTIONS).reward


def test_logit_is_the_log_density_ratio(trained: DiscriminatorReward) -> None:
    held_out = np.concatenate([RNG.normal(0, 1, (500, 2)), RNG.normal(1, 0.5, (500, 2))])
    logit, truth = trained.predict(held_out), true_log_ratio(held_out)
    assert pearsonr(logit, truth)[0] > 0.9
    # Class balance makes the logit the ratio itself, without a log-prior offset.
    assert abs(np.median(logit - truth)) < 0.5
    expert_side = trained.predict(RNG.normal(1, 0.5, (200, 2)))
    base_side = trained.predict(RNG.normal(-1.5, 0.5, (200, 2)))
    assert expert_side.mean() > 1.0 > -1.0 > base_side.mean()


def test_save_and_load_round_trip(trained: DiscriminatorReward, tmp_path: Path) -> None:
    trained.save(tmp_path / "disc")
    loaded = rr_gym.load(tmp_path / "disc")
    assert isinstance(loaded, DiscriminatorReward)
    x = RNG.normal(size=(20, 2))
    np.testing.assert_array_equal(loaded.predict(x), trained.predict(x))
    assert loaded.normalizer == trained.normalizer
    assert loaded.training_config["trainer"] == "DiscriminatorTrainer"
    assert loaded.metadata["baseline"] == "discriminator"


def _trainer(config: TrainConfig, seed: int = 0) -> DiscriminatorTrainer:
    layout = TransitionLayout.flat(2)
    reward = seeded(lambda: DiscriminatorReward(layout, hidden_sizes=(16,)), seed)
    expert = torch.as_tensor(EXPERT[:, None, :], dtype=torch.float32)
    base = torch.as_tensor(BASE[:, None, :], dtype=torch.float32)
    return DiscriminatorTrainer(reward, expert, base, config, torch.device("cpu"))


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    def config(steps: int, d: Path, **kw: object) -> TrainConfig:
        return TrainConfig(
            steps=steps, batch_size=32, log_every=5, progress=False, checkpoint_dir=str(d), **kw
        )  # type: ignore[arg-type]

    full = _trainer(config(20, tmp_path / "full", checkpoint_every=10))
    full.fit()
    _trainer(config(10, tmp_path / "split")).fit()
    resumed = _trainer(config(20, tmp_path / "split"), seed=1)
    resumed.fit(resume=True)
    for key, value in full.module.state_dict().items():
        assert torch.equal(value, resumed.module.state_dict()[key]), key
    assert full.history == resumed.history
    assert torch.equal(full.generator.get_state(), resumed.generator.get_state())


def test_state_only_inputs_ignore_the_action() -> None:
    layout = TransitionLayout.from_sizes(observation=2, action=1)
    reward = DiscriminatorReward(layout, inputs=("observation",), hidden_sizes=(8,))
    x = torch.randn(4, 1, 3)
    grad = reward.gradient(x)
    assert grad.shape == (4, 1, 3)
    assert torch.all(grad[..., 2] == 0) and torch.any(grad[..., :2] != 0)
    with pytest.raises(ConfigError, match="no field 'goal'"):
        DiscriminatorReward(layout, inputs=("goal",))


def test_windows_of_several_transitions() -> None:
    base = RNG.normal(size=(200, 3, 2))
    expert = RNG.normal(1.0, 1.0, size=(200, 3, 2))
    result = train_discriminator(
        base, expert, horizon=3, window=2, steps=5, batch_size=32, **OPTIONS
    )
    assert result.reward.window == 2
    inferred = train_discriminator(base, expert, steps=1, batch_size=32, **OPTIONS)
    assert inferred.reward.window == 3  # the data's horizon
    assert result.reward.predict(expert[:7]).shape == (7,)
    assert len(result.history) == 1 and result.steps == 5


def test_minari_datasets_as_inputs(pendulum_dataset: str) -> None:
    result = train_discriminator(
        pendulum_dataset, pendulum_dataset, steps=2, batch_size=16, **OPTIONS
    )
    assert result.reward.layout == TransitionLayout.from_sizes(observation=3, action=1)


def test_different_layouts_are_a_data_error_naming_both() -> None:
    a = windows_from_arrays(
        [RNG.normal(size=(10, 3))],
        [np.zeros(10)],
        horizon=1,
        layout=TransitionLayout.from_sizes(observation=2, action=1),
    )
    b = windows_from_arrays(
        [RNG.normal(size=(10, 3))],
        [np.zeros(10)],
        horizon=1,
        layout=TransitionLayout.from_sizes(observation=1, action=2),
    )
    with pytest.raises(DataError, match=r"observation:2, action:1.*observation:1, action:2"):
        train_discriminator(b, a, steps=1, batch_size=4, **OPTIONS)
    with pytest.raises(DataError, match="expert data has transition dim 3 but base data has 2"):
        train_discriminator(BASE, RNG.normal(size=(10, 3)), steps=1, batch_size=4, **OPTIONS)


def test_different_spaces_are_a_data_error_naming_both() -> None:
    layout = TransitionLayout.flat(2)
    a = windows_from_arrays(
        [BASE[:10]],
        [np.zeros(10)],
        horizon=1,
        layout=layout,
        metadata={"observation_space": "Box(-1, 1, (2,))"},
    )
    b = windows_from_arrays(
        [BASE[:10]],
        [np.zeros(10)],
        horizon=1,
        layout=layout,
        metadata={"observation_space": "Box(-5, 5, (2,))"},
    )
    with pytest.raises(DataError, match=r"Box\(-1, 1, \(2,\)\) but base data has Box\(-5"):
        train_discriminator(b, a, steps=1, batch_size=4, **OPTIONS)


def test_too_few_transitions_for_the_batch() -> None:
    with pytest.raises(DataError, match="expert data has 10 samples, fewer than the 32"):
        train_discriminator(BASE, EXPERT[:10], steps=1, batch_size=64, **OPTIONS)
    with pytest.raises(DataError, match="base data has 5 samples"):
        train_discriminator(BASE[:5], EXPERT, steps=1, batch_size=64, **OPTIONS)
    with pytest.raises(ConfigError, match="batch_size=1"):
        train_discriminator(BASE, EXPERT, steps=1, batch_size=1, **OPTIONS)
    with pytest.raises(ConfigError, match="window=3"):
        train_discriminator(BASE, EXPERT, steps=1, window=3, **OPTIONS)
