"""NoiseSchedule: betas, the forward process and the DDPM posterior against NumPy formulas."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rr_gym.diffusion.schedule import NoiseSchedule
from rr_gym.errors import ConfigError

SCHEDULES = [("cosine", 20), ("cosine", 100), ("linear", 20), ("linear", 100), ("cosine", 1)]


def _reference(schedule: NoiseSchedule) -> dict[str, np.ndarray]:
    """The DDPM quantities (Ho et al. 2020, eqs. 4, 6, 7), recomputed from the betas alone."""
    betas = schedule.array("betas")
    alphas = 1.0 - betas
    ac = np.array([np.prod(alphas[: i + 1]) for i in range(len(betas))])
    ac_prev = np.array([1.0] + [np.prod(alphas[:i]) for i in range(1, len(betas))])
    return {
        "ac": ac,
        "ac_prev": ac_prev,
        "coef_x0": np.sqrt(ac_prev) * betas / (1.0 - ac),
        "coef_xt": np.sqrt(alphas) * (1.0 - ac_prev) / (1.0 - ac),
        "var": (1.0 - ac_prev) / (1.0 - ac) * betas,
    }


@pytest.mark.parametrize(("kind", "n"), SCHEDULES)
def test_betas_in_unit_interval_and_alphas_cumprod_decreasing(kind: str, n: int) -> None:
    schedule = NoiseSchedule(n, kind)  # type: ignore[arg-type]
    betas = schedule.array("betas")
    assert betas.shape == (n,) and betas.dtype == np.float64
    assert np.all(betas > 0) and np.all(betas < 1)
    ac = schedule.array("alphas_cumprod")
    assert np.all(np.diff(ac) < 0)
    assert 0 < ac[-1] <= ac[0] < 1
    np.testing.assert_allclose(ac, _reference(schedule)["ac"], rtol=1e-12)
    assert schedule.array("alphas_cumprod_prev")[0] == 1.0


def test_linear_betas_span_the_given_range() -> None:
    betas = NoiseSchedule(50, "linear", beta_start=1e-3, beta_end=0.05).array("betas")
    np.testing.assert_allclose(betas[[0, -1]], [1e-3, 0.05])
    np.testing.assert_allclose(np.diff(betas), np.diff(betas)[0])


def test_cosine_destroys_the_signal_by_the_last_step() -> None:
    schedule = NoiseSchedule(100)
    ac = schedule.array("alphas_cumprod")
    assert ac[0] > 0.999
    assert ac[-1] < 1e-3
    assert schedule.array("betas")[-1] <= 0.999


@pytest.mark.parametrize(("kind", "n"), SCHEDULES)
def test_add_noise_matches_the_closed_form(kind: str, n: int) -> None:
    schedule = NoiseSchedule(n, kind)  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(6, 4, 3, generator=gen, dtype=torch.float64)
    noise = torch.randn(6, 4, 3, generator=gen, dtype=torch.float64)
    t = torch.randint(0, n, (6,), generator=gen)
    ac = _reference(schedule)["ac"][t.numpy()][:, None, None]
    expected = np.sqrt(ac) * x0.numpy() + np.sqrt(1 - ac) * noise.numpy()
    np.testing.assert_allclose(schedule.add_noise(x0, noise, t).numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize(("kind", "n"), SCHEDULES)
def test_predict_x0_and_predict_eps_invert_each_other(kind: str, n: int) -> None:
    schedule = NoiseSchedule(n, kind)  # type: ignore[arg-type]
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn(8, 2, 2, generator=gen, dtype=torch.float64)
    eps = torch.randn(8, 2, 2, generator=gen, dtype=torch.float64)
    # Not the last step of a long cosine schedule, where alpha-bar ~ 1e-5 amplifies rounding.
    t = torch.randint(0, max(n - 1, 1), (8,), generator=gen)
    xt = schedule.add_noise(x0, eps, t)
    torch.testing.assert_close(schedule.predict_x0(xt, t, eps), x0, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(schedule.predict_eps(xt, t, x0), eps, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("kind", "n"), SCHEDULES)
def test_posterior_matches_the_ddpm_formula(kind: str, n: int) -> None:
    schedule = NoiseSchedule(n, kind)  # type: ignore[arg-type]
    ref = _reference(schedule)
    gen = torch.Generator().manual_seed(2)
    x0 = torch.randn(n, 3, 2, generator=gen, dtype=torch.float64)
    xt = torch.randn(n, 3, 2, generator=gen, dtype=torch.float64)
    t = torch.arange(n)
    post = schedule.posterior(x0, xt, t)
    expected_mean = (
        ref["coef_x0"][:, None, None] * x0.numpy() + ref["coef_xt"][:, None, None] * xt.numpy()
    )
    np.testing.assert_allclose(post.mean.numpy(), expected_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(post.variance.numpy().reshape(-1), ref["var"], atol=1e-15)
    assert post.variance.shape == (n, 1, 1)
    assert ref["var"][0] == 0.0  # no noise is left to remove at t = 0
    log_var = post.log_variance.numpy().reshape(-1)
    assert np.all(np.isfinite(log_var))
    if n > 1:  # log variance is clipped at t = 0 to the value of t = 1, as in Diffuser
        np.testing.assert_allclose(log_var[1:], np.log(ref["var"][1:]), rtol=1e-12)
        assert log_var[0] == log_var[1]


def test_posterior_at_t0_returns_x0() -> None:
    schedule = NoiseSchedule(50)
    x0, xt = torch.randn(4, 1, 2, dtype=torch.float64), torch.randn(4, 1, 2, dtype=torch.float64)
    post = schedule.posterior(x0, xt, torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(post.mean, x0)


def test_coef_broadcasts_and_follows_dtype() -> None:
    schedule = NoiseSchedule(10)
    like = torch.zeros(3, 5, 2, dtype=torch.float32)
    c = schedule.coef("betas", torch.tensor([0, 4, 9]), like)
    assert c.shape == (3, 1, 1) and c.dtype == torch.float32
    np.testing.assert_allclose(c.reshape(-1).numpy(), schedule.array("betas")[[0, 4, 9]], rtol=1e-6)
    c64 = schedule.coef("betas", torch.tensor([1]), like.double())
    assert c64.dtype == torch.float64 and c64.shape == (1, 1, 1)


def test_equality_dict_round_trip_and_hash() -> None:
    for schedule in (NoiseSchedule(30), NoiseSchedule(30, "linear", beta_end=0.03)):
        back = NoiseSchedule.from_dict(json.loads(json.dumps(schedule.to_dict())))
        assert back == schedule and hash(back) == hash(schedule)
        np.testing.assert_array_equal(back.array("betas"), schedule.array("betas"))
    assert NoiseSchedule(30) != NoiseSchedule(31)
    assert NoiseSchedule(30) != NoiseSchedule(30, "linear")
    assert NoiseSchedule(30, "linear") != NoiseSchedule(30, "linear", beta_end=0.03)
    assert NoiseSchedule(30) != "cosine"


def test_cosine_ignores_linear_parameters_in_equality_and_hash() -> None:
    a, b = NoiseSchedule(30), NoiseSchedule(30, beta_start=1e-3, beta_end=0.5)
    np.testing.assert_array_equal(a.array("betas"), b.array("betas"))
    assert a == b
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_repr() -> None:
    assert repr(NoiseSchedule(10)) == "NoiseSchedule(n_steps=10, kind='cosine')"
    assert "beta_end=0.02" in repr(NoiseSchedule(10, "linear"))


@pytest.mark.parametrize("n_steps", [0, -5, 2.5, "10", None])
def test_bad_n_steps_is_a_config_error(n_steps: object) -> None:
    with pytest.raises(ConfigError, match="n_steps"):
        NoiseSchedule(n_steps)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["quadratic", "Cosine", ""])
def test_bad_kind_is_a_config_error(kind: str) -> None:
    with pytest.raises(ConfigError, match=f"kind={kind!r}"):
        NoiseSchedule(10, kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(("start", "end"), [(0.0, 0.02), (0.03, 0.02), (1e-4, 1.0), (-1e-4, 0.1)])
def test_bad_linear_betas_are_config_errors(start: float, end: float) -> None:
    with pytest.raises(ConfigError, match="beta_start"):
        NoiseSchedule(10, "linear", beta_start=start, beta_end=end)
