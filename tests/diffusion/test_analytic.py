"""GaussianMixtureDiffusion: closed-form densities, scores and denoiser outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from rr_gym.diffusion import NoiseSchedule
from rr_gym.diffusion.analytic import GaussianMixtureDiffusion
from rr_gym.errors import ConfigError
from tests._factories import MIX_MEANS, MIX_STDS, MIX_WEIGHTS, gaussian, mixture, mixture_moments


def _torch_mixture(ac: float) -> MixtureSameFamily:
    """The mixture noised to alpha-bar ``ac`` with torch.distributions (an independent route)."""
    means = torch.as_tensor(MIX_MEANS) * math.sqrt(ac)
    stds = torch.sqrt(ac * torch.as_tensor(MIX_STDS) ** 2 + (1 - ac))
    return MixtureSameFamily(
        Categorical(probs=torch.as_tensor(MIX_WEIGHTS)), Independent(Normal(means, stds), 1)
    )


def test_data_log_prob_matches_torch_distributions() -> None:
    model = mixture(horizon=3)
    x = torch.randn(50, 3, 2, dtype=torch.float64) * 2
    expected = _torch_mixture(1.0).log_prob(x).sum(1)
    torch.testing.assert_close(
        model.data_log_prob(x.float()).double(), expected, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("t", [0, 10, 50, 99])
def test_noised_log_prob_matches_torch_distributions(t: int) -> None:
    model = mixture(n_steps=100)
    ac = float(model.schedule.array("alphas_cumprod")[t])
    x = torch.randn(40, 1, 2, dtype=torch.float64) * 2
    expected = _torch_mixture(ac).log_prob(x[:, 0])
    torch.testing.assert_close(
        model.log_prob(x.float(), t).double(), expected, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("t", [0, 5, 30, 99])
def test_predicted_noise_is_minus_sigma_times_the_autograd_score(t: int) -> None:
    model = mixture(n_steps=100, horizon=2)
    x = (torch.randn(32, 2, 2) * 2).requires_grad_(True)
    (score,) = torch.autograd.grad(model.log_prob(x, t).sum(), x)
    steps = torch.full((32,), t)
    sigma = math.sqrt(1 - model.schedule.array("alphas_cumprod")[t])
    pred = model.estimate(x.detach(), steps)
    torch.testing.assert_close(pred.eps, -sigma * score, rtol=1e-4, atol=1e-5)
    # And x0 is what add_noise inverts to.
    torch.testing.assert_close(
        model.schedule.add_noise(pred.x0, pred.eps, steps), x.detach(), rtol=1e-4, atol=1e-4
    )


def test_single_gaussian_x0_prediction_is_the_tweedie_posterior_mean() -> None:
    mu, s = np.array([1.0, -2.0]), np.array([0.5, 2.0])
    model = gaussian(mu.tolist(), s.tolist(), n_steps=20)
    x = torch.randn(16, 1, 2)
    for t in (0, 7, 19):
        ac = model.schedule.array("alphas_cumprod")[t]
        # E[x0 | xt] for x0 ~ N(mu, s^2): mu + sqrt(ac) s^2 / (ac s^2 + 1 - ac) (xt - sqrt(ac) mu)
        gain = np.sqrt(ac) * s**2 / (ac * s**2 + 1 - ac)
        expected = mu + gain * (x.numpy() - np.sqrt(ac) * mu)
        x0 = model.estimate(x, torch.full((16,), t)).x0
        np.testing.assert_allclose(x0.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_sample_data_has_the_mixture_moments() -> None:
    model = mixture(horizon=2)
    x = model.sample_data(20000, np.random.default_rng(0))
    assert x.shape == (20000, 2, 2) and x.dtype == np.float32
    mean, std = mixture_moments()
    np.testing.assert_allclose(x.reshape(-1, 2).mean(0), mean, atol=0.05)
    np.testing.assert_allclose(x.reshape(-1, 2).std(0), std, rtol=0.02)
    assert abs((x[..., 0] < -0.25).mean() - 0.3) < 0.01
    a, b = (model.sample_data(5, np.random.default_rng(1)) for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_weights_are_normalised_and_default_to_uniform() -> None:
    schedule = NoiseSchedule(10)
    a = GaussianMixtureDiffusion(MIX_MEANS, MIX_STDS, schedule, weights=np.array([3.0, 7.0]))
    torch.testing.assert_close(a.log_weights.exp(), torch.tensor([0.3, 0.7]))
    b = GaussianMixtureDiffusion(MIX_MEANS, 1.0, schedule)
    torch.testing.assert_close(b.log_weights.exp(), torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(b.stds, torch.ones(2, 2))


@pytest.mark.parametrize(
    ("stds", "weights"),
    [(MIX_STDS, np.array([1.0])), (MIX_STDS, np.array([0.5, 0.0])), (-MIX_STDS, None)],
)
def test_bad_weights_or_stds_are_config_errors(
    stds: np.ndarray, weights: np.ndarray | None
) -> None:
    with pytest.raises(ConfigError, match="positive"):
        GaussianMixtureDiffusion(MIX_MEANS, stds, NoiseSchedule(10), weights=weights)


def test_the_network_placeholder_is_never_called() -> None:
    model = mixture()
    with pytest.raises(NotImplementedError, match="closed form"):
        model.model(torch.zeros(1, 1, 2), torch.zeros(1, dtype=torch.long))


def test_saving_is_refused() -> None:
    with pytest.raises(ConfigError, match="analytic"):
        mixture().checkpoint_state()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_moves_to_cuda() -> None:
    model = mixture().to("cuda")
    assert model.device.type == "cuda" and model.means.device.type == "cuda"
    x = torch.randn(8, 1, 2)
    t = torch.full((8,), 10)
    torch.testing.assert_close(
        model.estimate(x.cuda(), t.cuda()).eps.cpu(),
        mixture().estimate(x, t).eps,
        rtol=1e-4,
        atol=1e-5,
    )
