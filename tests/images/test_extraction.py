"""Gradient matching on images: a known answer, conditions reaching the networks, and the
training entry points."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from rr_gym.diffusion import NoiseSchedule
from rr_gym.diffusion.process import DiffusionProcess
from rr_gym.errors import ConfigError, DataError
from rr_gym.images import ImageReward, extract_image_reward, train_image_diffusion
from rr_gym.rewards import GradientMatchingTrainer
from rr_gym.trainer import TrainConfig

SHAPE = (1, 8, 8)
STD = 0.5


class GaussianImages(DiffusionProcess):
    """The exact noise predictor of images drawn from N(mean, STD^2 I), optionally shifted
    by a per-sample condition ``shift`` ``(B,)``; records the conditions it was given."""

    def __init__(self, mean: torch.Tensor, schedule: NoiseSchedule) -> None:
        super().__init__(schedule, predict_epsilon=True)
        self.register_buffer("mean", mean)
        self.anchor = nn.Parameter(torch.zeros(()))  # a parameter, for .device
        self.seen: list[torch.Tensor] = []

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.mean.shape)

    def network_output(self, xt, t, shift=None):
        mean = self.mean.expand_as(xt)
        if shift is not None:
            self.seen.append(shift)
            mean = mean + shift[:, None, None, None]
        ac = self.schedule.coef("alphas_cumprod", t, xt)
        var = ac * STD**2 + 1 - ac
        return (1 - ac).sqrt() * (xt - ac.sqrt() * mean) / var  # -sqrt(1 - ac) * score


def _means() -> tuple[torch.Tensor, torch.Tensor]:
    expert = torch.zeros(SHAPE)
    expert[:, :4] = 0.6  # the expert's images are brighter in the top half
    expert[:, 4:] = -0.6
    return torch.zeros(SHAPE), expert


def _draw(mean: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return mean + STD * torch.randn((n, *SHAPE), generator=gen)


@pytest.mark.parametrize("target", ["score", "posterior_mean"])
def test_reward_between_two_gaussian_image_models_recovers_their_log_density_ratio(target) -> None:
    """Base N(0, s^2 I) vs expert N(m, s^2 I): log p_E / p_B = x . m / s^2 + const, so the
    reward at t = 0 must rank expert images above base images and its gradient must point
    along m."""
    schedule = NoiseSchedule(20, "linear", beta_end=0.2)
    m_base, m_expert = _means()
    base, expert = GaussianImages(m_base, schedule), GaussianImages(m_expert, schedule)
    data = torch.cat([_draw(m_base, 512, 0), _draw(m_expert, 512, 1)])
    torch.manual_seed(0)
    reward = ImageReward(SHAPE, channels=(8, 16), n_diffusion_steps=20)
    config = TrainConfig(steps=400, batch_size=64, lr=3e-3, progress=False)
    GradientMatchingTrainer(
        reward, base, expert, data, config, torch.device("cpu"), target=target
    ).fit()
    held_base, held_expert = _draw(m_base, 200, 2), _draw(m_expert, 200, 3)
    scores = reward.predict(torch.cat([held_base, held_expert]).numpy(), t=0)
    labels = np.r_[np.zeros(200), np.ones(200)]
    assert roc_auc_score(labels, scores) > 0.95
    # the gradient points along m at a step where both targets carry weight (the
    # posterior-mean target's size scales with beta_t, so it is faint at t = 0)
    grad = reward.gradient(
        schedule.add_noise(held_expert, torch.randn_like(held_expert), torch.full((200,), 10)), 10
    )
    truth = (m_expert - m_base).flatten()
    assert torch.nn.functional.cosine_similarity(grad.mean(0).flatten(), truth, dim=0) > 0.9


@pytest.mark.parametrize("source", ["data", "base_chain"])
def test_conditions_reach_both_networks_row_by_row(source) -> None:
    schedule = NoiseSchedule(5, "linear")
    base, expert = (GaussianImages(m, schedule) for m in _means())
    data = _draw(base.mean, 32, 0)
    shifts = torch.arange(32, dtype=torch.float32)
    trainer = GradientMatchingTrainer(
        ImageReward(SHAPE, channels=(4,)),
        base,
        expert,
        data,
        TrainConfig(steps=2, batch_size=8, progress=False),
        torch.device("cpu"),
        conditions={"shift": shifts},
        source=source,
        chain_pool_size=4,
    )
    trainer.fit()
    assert base.seen and expert.seen
    seen = torch.cat(expert.seen)
    assert set(seen.tolist()) <= set(shifts.tolist())  # each row's own condition
    if source == "data":
        assert len(expert.seen) == 2 and all(len(s) == 8 for s in expert.seen)


def test_bad_conditions_and_options_are_refused() -> None:
    schedule = NoiseSchedule(5, "linear")
    base, expert = (GaussianImages(m, schedule) for m in _means())
    data = _draw(base.mean, 16, 0)
    reward = ImageReward(SHAPE, channels=(4,))
    config = TrainConfig(steps=1, batch_size=4, progress=False)
    cpu = torch.device("cpu")
    with pytest.raises(DataError, match=r"conditions\['shift'\].*\(16, \.\.\.\)"):
        GradientMatchingTrainer(
            reward, base, expert, data, config, cpu, conditions={"shift": torch.zeros(3)}
        )
    with pytest.raises(ConfigError, match="transitions_per_window=4"):
        GradientMatchingTrainer(reward, base, expert, data, config, cpu, transitions_per_window=4)
    with pytest.raises(DataError, match=r"expected \(N, 1, 8, 8\)"):
        GradientMatchingTrainer(reward, base, expert, data[:, :, :4], config, cpu)


def test_train_and_extract_end_to_end_on_tiny_unets(tmp_path) -> None:
    rng = np.random.default_rng(0)
    images = np.clip(rng.normal(0, 0.5, (64, *SHAPE)), -1, 1).astype(np.float32)
    unet = {
        "sample_size": 8,
        "in_channels": 1,
        "out_channels": 1,
        "layers_per_block": 1,
        "block_out_channels": [8, 16],
        "norm_num_groups": 4,
        "down_block_types": ["DownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "UpBlock2D"],
    }
    kw = dict(
        steps=3, unet_config=unet, n_diffusion_steps=10, batch_size=16, device="cpu", progress=False
    )
    base = train_image_diffusion(images, seed=0, **kw)
    expert = train_image_diffusion(images[:32], seed=1, **kw)
    reward = extract_image_reward(
        base, expert, images, steps=3, channels=(4,), batch_size=16, device="cpu", progress=False
    )
    assert reward.predict(images[:5]).shape == (5,)
    bad = images.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        train_image_diffusion(bad, seed=0, **kw)
    with pytest.raises(DataError, match=r"\(64, 8, 8\).*expected \(N, C, H, W\)"):
        extract_image_reward(base, expert, images[:, 0], steps=1, progress=False, device="cpu")
