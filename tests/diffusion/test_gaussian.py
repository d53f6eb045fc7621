"""GaussianDiffusion: loss and training, DDPM/DDIM sampling checked against an exact model,
inpainting, guidance, chains, determinism, compatibility checks and input validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rr_gym.diffusion import (
    GaussianDiffusion,
    GuidanceConfig,
    Inpainting,
    MLPDenoiser,
    NoiseSchedule,
    check_compatible,
)
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from tests._factories import gaussian, mixture, mixture_moments, mlp_diffusion, unet_diffusion


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _two_blobs(n: int = 512) -> torch.Tensor:
    rng = np.random.default_rng(0)
    centres = rng.choice(np.array([[-1.0, -1.0], [1.0, 1.0]]), size=n)
    return torch.as_tensor(centres + 0.1 * rng.standard_normal((n, 2)), dtype=torch.float32)[
        :, None, :
    ]


# ---------------------------------------------------------------------------- loss, training
@pytest.mark.parametrize("predict_epsilon", [True, False])
def test_training_decreases_the_loss(predict_epsilon: bool) -> None:
    data = _two_blobs()
    model = mlp_diffusion(n_steps=20, hidden_dim=32, predict_epsilon=predict_epsilon)
    probe = data[:256]

    def probe_loss() -> float:
        with torch.no_grad():
            return float(np.mean([model.loss(probe, generator=_gen(s)).item() for s in range(4)]))

    before = probe_loss()
    assert np.isfinite(before)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = _gen(1)
    for _ in range(300):
        batch = data[torch.randint(len(data), (64,), generator=gen)]
        loss = model.loss(batch, generator=gen)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = probe_loss()
    assert after < 0.7 * before, (before, after)


def test_loss_is_a_scalar_and_deterministic_given_a_generator() -> None:
    model = unet_diffusion()
    x0 = torch.randn(4, 8, 3)
    loss = model.loss(x0, generator=_gen(3))
    assert loss.shape == () and torch.isfinite(loss)
    assert torch.equal(loss, model.loss(x0, generator=_gen(3)))
    assert not torch.equal(loss, model.loss(x0, generator=_gen(4)))


@pytest.mark.parametrize("predict_epsilon", [True, False])
def test_predictions_are_consistent_in_both_parameterisations(predict_epsilon: bool) -> None:
    model = mlp_diffusion(horizon=2, dim=3, predict_epsilon=predict_epsilon)
    xt, t = torch.randn(5, 2, 3, dtype=torch.float64), torch.tensor([0, 2, 4, 6, 8])
    model.double()
    pred = model.estimate(xt, t)
    out = model.model(xt, t)
    torch.testing.assert_close(pred.eps if predict_epsilon else pred.x0, out)
    # x_t is exactly what x0 noised with eps gives.
    torch.testing.assert_close(model.schedule.add_noise(pred.x0, pred.eps, t), xt)
    post = model.schedule.posterior(pred.x0, xt, t)
    torch.testing.assert_close(model.posterior_mean(xt, t), post.mean)


@pytest.mark.parametrize("shape", [(4, 2, 2), (4, 1, 3), (4, 2), (4, 1, 2, 1)])
def test_wrong_input_shape_is_a_data_error(shape: tuple[int, ...]) -> None:
    model = mlp_diffusion()
    with pytest.raises(DataError, match=r"\(B, 1, 2\)"):
        model.loss(torch.zeros(shape))


def test_normalizer_or_layout_of_the_wrong_dim_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="transition_dim=2"):
        mlp_diffusion(normalizer=Normalizer.identity(3))
    with pytest.raises(ConfigError, match="transition_dim=2"):
        mlp_diffusion(layout=TransitionLayout.flat(1))


# ---------------------------------------------------------------------------- sampling
def test_ddpm_and_ddim_sample_shapes() -> None:
    model = unet_diffusion(horizon=8, dim=3, n_steps=10)
    ddpm = model.sample(4, generator=_gen())
    assert ddpm.x.shape == (4, 8, 3) and ddpm.chain is None
    assert ddpm.timesteps.tolist() == list(range(9, -1, -1))
    ddim = model.sample(2, sampler="ddim", n_steps=4, generator=_gen())
    assert ddim.x.shape == (2, 8, 3)
    assert ddim.timesteps.tolist() == [9, 6, 3, 0]
    assert torch.isfinite(ddpm.x).all() and torch.isfinite(ddim.x).all()


@pytest.mark.parametrize("n", [1, 2, 3, 7, 10])
def test_ddim_timesteps_start_from_pure_noise_and_end_at_zero(n: int) -> None:
    steps = mlp_diffusion(n_steps=10).timesteps("ddim", n).tolist()
    assert len(steps) == n
    assert steps[0] == 9  # sampling starts from x_T ~ N(0, I): the first step must be T - 1
    assert steps == sorted(set(steps), reverse=True)
    if n > 1:
        assert steps[-1] == 0


def test_ddim_with_all_steps_visits_the_ddpm_steps() -> None:
    model = mlp_diffusion(n_steps=10)
    assert torch.equal(model.timesteps("ddim"), model.timesteps("ddpm"))
    assert torch.equal(model.timesteps("ddim", 10), model.timesteps("ddpm", 10))


@pytest.mark.parametrize(
    ("sampler", "n_steps", "match"),
    [
        ("ddpm", 5, "DDPM visits all 10 steps"),
        ("ddim", 0, "n_steps=0 must be in 1..10"),
        ("ddim", 11, "n_steps=11 must be in 1..10"),
        ("euler", None, "sampler='euler'"),
    ],
)
def test_bad_sampler_or_steps_is_a_config_error(
    sampler: str, n_steps: int | None, match: str
) -> None:
    model = mlp_diffusion(n_steps=10)
    with pytest.raises(ConfigError, match=match):
        model.sample(2, sampler=sampler, n_steps=n_steps)  # type: ignore[arg-type]


def _assert_matches_mixture(x: torch.Tensor) -> None:
    """``x`` (N, H, 2) must have the mixture's mean, std and component weights."""
    flat = x.reshape(-1, 2).double().numpy()
    n = len(flat)
    mean, std = mixture_moments()
    se = std / np.sqrt(n)
    assert np.all(np.abs(flat.mean(0) - mean) < 5 * se), (flat.mean(0), mean)
    np.testing.assert_allclose(flat.std(0), std, rtol=0.05)
    # The two components are separated along the first axis (means -2 and 1.5).
    left = (flat[:, 0] < -0.25).mean()
    assert abs(left - 0.3) < 5 * np.sqrt(0.3 * 0.7 / n), left
    # Within the right component the spread is the component's, not the mixture's.
    right = flat[flat[:, 0] > -0.25]
    np.testing.assert_allclose(right.std(0), [0.4, 0.6], rtol=0.1)


def test_ddim_with_the_exact_model_samples_the_mixture() -> None:
    oracle = mixture(n_steps=100)
    out = oracle.sample(4000, sampler="ddim", generator=_gen(0))
    _assert_matches_mixture(out.x)


def test_ddim_with_few_steps_and_eta_samples_the_mixture() -> None:
    oracle = mixture(n_steps=100)
    _assert_matches_mixture(oracle.sample(4000, sampler="ddim", n_steps=50, generator=_gen(1)).x)
    out = oracle.sample(4000, sampler="ddim", n_steps=50, eta=1.0, generator=_gen(2))
    _assert_matches_mixture(out.x)


def test_ddpm_with_the_exact_model_samples_the_mixture() -> None:
    oracle = mixture(n_steps=100, horizon=2)
    out = oracle.sample(2000, generator=_gen(3))
    assert out.x.shape == (2000, 2, 2)
    _assert_matches_mixture(out.x)


def test_ddim_step_follows_the_ddim_update() -> None:
    oracle = mixture(n_steps=20)
    out = oracle.sample(16, sampler="ddim", n_steps=5, generator=_gen(), return_chain=True)
    assert out.chain is not None
    ac = oracle.schedule.array("alphas_cumprod")
    steps = out.timesteps.tolist()
    for i, step in enumerate(steps):
        x = out.chain[i]
        pred = oracle.estimate(x, torch.full((16,), step))
        if i + 1 < len(steps):
            a = float(ac[steps[i + 1]])
            expected = np.sqrt(a) * pred.x0 + np.sqrt(1 - a) * pred.eps
        else:
            expected = pred.x0
        torch.testing.assert_close(out.chain[i + 1], expected, rtol=1e-5, atol=1e-5)


def test_ddpm_last_step_is_the_posterior_mean_without_noise() -> None:
    model = mlp_diffusion(n_steps=10)
    out = model.sample(8, generator=_gen(), return_chain=True)
    assert out.chain is not None
    with torch.no_grad():
        expected = model.posterior_mean(out.chain[-2], torch.zeros(8, dtype=torch.long))
    torch.testing.assert_close(out.x, expected)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_clip_denoised_bounds_the_final_samples(sampler: str) -> None:
    model = mlp_diffusion(n_steps=10, clip_denoised=0.1)
    x = model.sample(64, sampler=sampler, generator=_gen()).x  # type: ignore[arg-type]
    assert x.abs().max() <= 0.1 + 1e-6
    free = mlp_diffusion(n_steps=10).sample(64, sampler=sampler, generator=_gen()).x  # type: ignore[arg-type]
    assert free.abs().max() > 0.1


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_clip_denoised_per_call_overrides_the_model(sampler: str) -> None:
    model = mlp_diffusion(n_steps=10)
    x = model.sample(64, sampler=sampler, generator=_gen(), clip_denoised=0.1).x  # type: ignore[arg-type]
    assert x.abs().max() <= 0.1 + 1e-6
    assert model.clip_denoised is None  # the model itself is left as it was


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_return_chain_shape_and_last_entry(sampler: str) -> None:
    model = unet_diffusion(horizon=8, dim=3, n_steps=10)
    n = 10 if sampler == "ddpm" else 4
    out = model.sample(3, sampler=sampler, n_steps=n, generator=_gen(), return_chain=True)  # type: ignore[arg-type]
    assert out.chain is not None
    assert out.chain.shape == (n + 1, 3, 8, 3)
    assert torch.equal(out.chain[-1], out.x)
    assert len(out.timesteps) == n
    # chain[0] is the initial noise x_T.
    assert abs(out.chain[0].std().item() - 1.0) < 0.35


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_same_generator_seed_gives_identical_samples(sampler: str) -> None:
    model = unet_diffusion()
    kwargs = {"sampler": sampler, "eta": 0.5, "n_steps": 5 if sampler == "ddim" else None}
    a = model.sample(4, generator=_gen(7), **kwargs).x  # type: ignore[arg-type]
    b = model.sample(4, generator=_gen(7), **kwargs).x  # type: ignore[arg-type]
    c = model.sample(4, generator=_gen(8), **kwargs).x  # type: ignore[arg-type]
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_sampling_with_a_generator_leaves_the_global_rng_alone() -> None:
    model = mlp_diffusion()
    state = torch.get_rng_state()
    model.sample(4, generator=_gen())
    model.loss(torch.zeros(4, 1, 2), generator=_gen())
    assert torch.equal(torch.get_rng_state(), state)


# ---------------------------------------------------------------------------- inpainting
@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_inpainting_keeps_imposed_entries_exactly(sampler: str) -> None:
    model = unet_diffusion(horizon=8, dim=3, n_steps=10)
    mask = torch.zeros(5, 8, 3, dtype=torch.bool)
    mask[:, 0, :2] = True
    mask[:, -1, 2] = True
    values = torch.randn(5, 8, 3, generator=_gen(9)) * 3
    cond = Inpainting(mask, values)
    out = model.sample(
        5,
        inpainting=cond,
        sampler=sampler,
        n_steps=4 if sampler == "ddim" else None,  # type: ignore[arg-type]
        generator=_gen(),
        return_chain=True,
    )
    assert torch.equal(out.x[mask], values[mask])
    assert out.chain is not None
    for x in out.chain:
        assert torch.equal(x[mask], values[mask])
    assert not torch.equal(out.x[~mask], values[~mask])


def test_inpainting_conditions_the_exact_model_on_the_current_state() -> None:
    # Independent transitions: fixing step 0 must leave step 1 distributed as the mixture.
    oracle = mixture(n_steps=50, horizon=2)
    layout = TransitionLayout.flat(2, name="observation")
    state = torch.tensor([[-2.0, 0.5]]).expand(2000, 2)
    cond = Inpainting.current_state(state, layout, horizon=2)
    x = oracle.sample(2000, sampler="ddim", inpainting=cond, generator=_gen()).x
    assert torch.equal(x[:, 0], state)
    _assert_matches_mixture(x[:, 1:])


# ---------------------------------------------------------------------------- guidance
class ConstantGuide:
    """Gradient ``direction`` everywhere; records the steps it is called at."""

    def __init__(self, direction: list[float]) -> None:
        self.direction = torch.tensor(direction)
        self.calls: list[int] = []
        self.grad_enabled: list[bool] = []

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        assert t.shape == (x.shape[0],) and bool((t == t[0]).all())
        self.calls.append(int(t[0]))
        self.grad_enabled.append(torch.is_grad_enabled())
        return self.direction.expand_as(x)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_constant_guide_shifts_samples_in_its_direction(sampler: str) -> None:
    oracle = gaussian([0.0, 0.0], [0.5, 0.5], n_steps=20)
    base = oracle.sample(1000, sampler=sampler, generator=_gen()).x  # type: ignore[arg-type]
    up = ConstantGuide([1.0, 0.0])
    guided = oracle.sample(
        1000,
        sampler=sampler,
        guidance=GuidanceConfig(up, scale=0.1),
        generator=_gen(),  # type: ignore[arg-type]
    ).x
    down = oracle.sample(
        1000,
        sampler=sampler,  # type: ignore[arg-type]
        guidance=GuidanceConfig(ConstantGuide([-1.0, 0.0]), scale=0.1),
        generator=_gen(),
    ).x
    shift = (guided - base).mean((0, 1))
    assert shift[0] > 0.2, shift
    assert (down - base).mean((0, 1))[0] < -0.2
    # The dimensions are independent under this model: the other one does not move.
    torch.testing.assert_close(guided[..., 1], base[..., 1], rtol=1e-5, atol=1e-5)
    assert all(up.grad_enabled)  # a guide may use autograd although sampling runs no_grad


def test_zero_scale_guidance_changes_nothing() -> None:
    oracle = gaussian([0.0, 0.0], [0.5, 0.5], n_steps=20)
    base = oracle.sample(16, generator=_gen()).x
    guided = oracle.sample(
        16, guidance=GuidanceConfig(ConstantGuide([1.0, 1.0]), scale=0.0), generator=_gen()
    ).x
    assert torch.equal(base, guided)


@pytest.mark.parametrize(
    ("sampler", "n_steps", "t_stopgrad", "n_guide", "expected"),
    [
        ("ddpm", None, 0, 1, list(range(9, -1, -1))),
        ("ddpm", None, 4, 1, [9, 8, 7, 6, 5, 4]),
        ("ddpm", None, 7, 2, [9, 9, 8, 8, 7, 7]),
        ("ddim", 4, 3, 1, [9, 6, 3]),
        ("ddim", 4, 4, 1, [9, 6]),
    ],
)
def test_guide_is_called_only_at_steps_from_t_stopgrad(
    sampler: str, n_steps: int | None, t_stopgrad: int, n_guide: int, expected: list[int]
) -> None:
    guide = ConstantGuide([1.0, 0.0])
    guidance = GuidanceConfig(guide, scale=0.1, t_stopgrad=t_stopgrad, n_guide_steps=n_guide)
    mlp_diffusion(n_steps=10).sample(
        3,
        sampler=sampler,
        n_steps=n_steps,
        guidance=guidance,  # type: ignore[arg-type]
        generator=_gen(),
    )
    assert guide.calls == expected


def test_guided_entries_are_reimposed_by_inpainting() -> None:
    model = mlp_diffusion(horizon=2, n_steps=10)
    mask = torch.zeros(4, 2, 2, dtype=torch.bool)
    mask[:, 0] = True
    values = torch.ones(4, 2, 2)
    out = model.sample(
        4,
        inpainting=Inpainting(mask, values),
        return_chain=True,
        guidance=GuidanceConfig(ConstantGuide([5.0, 5.0]), scale=1.0),
        generator=_gen(),
    )
    assert out.chain is not None
    assert torch.equal(out.chain[:, :, 0], torch.ones(11, 4, 2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_guide_steps": 0}, "n_guide_steps=0"), ({"t_stopgrad": -1}, "t_stopgrad=-1")],
)
def test_bad_guidance_options_are_config_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        GuidanceConfig(ConstantGuide([0.0]), **kwargs)


# ---------------------------------------------------------------------------- compatibility
def _pair(**expert_kwargs: object) -> tuple[GaussianDiffusion, GaussianDiffusion]:
    return mlp_diffusion(n_steps=10), mlp_diffusion(**{"n_steps": 10, "seed": 1, **expert_kwargs})  # type: ignore[arg-type]


def test_compatible_models_pass() -> None:
    base, expert = _pair()
    check_compatible(base, expert)
    norm = Normalizer(np.array([1.0, 2.0]), np.array([3.0, 4.0]), "gaussian")
    check_compatible(*_pair_with(normalizer=norm, other=norm))


def _pair_with(**kwargs: object) -> tuple[GaussianDiffusion, GaussianDiffusion]:
    other = kwargs.pop("other")
    key = next(iter(kwargs))
    return mlp_diffusion(**kwargs), mlp_diffusion(seed=1, **{key: other})  # type: ignore[arg-type]


def test_different_schedules_are_refused_naming_both() -> None:
    base = mlp_diffusion(n_steps=10)
    expert = GaussianDiffusion(base.model, NoiseSchedule(20, "linear"))
    with pytest.raises(IncompatibleModelsError, match="noise schedule") as info:
        check_compatible(base, expert)
    assert "n_steps=10, kind='cosine'" in str(info.value)
    assert "n_steps=20, kind='linear'" in str(info.value)


def test_different_horizons_are_refused_naming_both() -> None:
    with pytest.raises(IncompatibleModelsError, match="horizon: base has 1, expert has 4"):
        check_compatible(mlp_diffusion(horizon=1), mlp_diffusion(horizon=4))


def test_different_layouts_are_refused_naming_both() -> None:
    base = mlp_diffusion()
    expert = mlp_diffusion(layout=TransitionLayout.from_sizes(observation=1, action=1))
    with pytest.raises(IncompatibleModelsError, match="transition layout") as info:
        check_compatible(base, expert)
    assert "('x', 2)" in str(info.value) and "('observation', 1)" in str(info.value)


@pytest.mark.parametrize(
    ("a", "b", "shown"),
    [
        (
            ([0.0, 1.0], [1.0, 1.0], "gaussian"),
            ([0.0, 2.5], [1.0, 1.0], "gaussian"),
            ["1.0", "2.5"],
        ),
        (([0.0, 1.0], [1.0, 1.0], "gaussian"), ([0.0, 1.0], [1.0, 7.25], "gaussian"), ["7.25"]),
        (([0.0, 1.0], [1.0, 1.0], "gaussian"), ([0.0, 1.0], [1.0, 1.0], "minmax"), ["minmax"]),
    ],
)
def test_different_normalizers_are_refused_naming_both(
    a: tuple, b: tuple, shown: list[str]
) -> None:
    norm_a = Normalizer(np.array(a[0]), np.array(a[1]), a[2])
    norm_b = Normalizer(np.array(b[0]), np.array(b[1]), b[2])
    with pytest.raises(IncompatibleModelsError, match="normalizer") as info:
        check_compatible(mlp_diffusion(normalizer=norm_a), mlp_diffusion(normalizer=norm_b))
    for text in shown:
        assert text in str(info.value)
    assert "fit one normalizer on the union" in str(info.value)


def test_properties() -> None:
    model = unet_diffusion(horizon=8, dim=3, n_steps=10)
    assert (model.horizon, model.transition_dim, model.n_steps) == (8, 3, 10)
    assert model.device == torch.device("cpu")
    assert model.layout == TransitionLayout.flat(3)
    assert model.normalizer == Normalizer.identity(3)
    assert isinstance(model.model, torch.nn.Module)
    assert not isinstance(model.model, MLPDenoiser)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_sampling_with_a_cpu_generator_is_deterministic() -> None:
    model = unet_diffusion().to("cuda")
    a = model.sample(4, generator=_gen(5)).x
    b = model.sample(4, generator=_gen(5)).x
    assert a.device.type == "cuda" and torch.equal(a, b)
    oracle = mixture(n_steps=100).to("cuda")
    x = oracle.sample(4000, sampler="ddim", generator=torch.Generator("cuda").manual_seed(0)).x
    _assert_matches_mixture(x.cpu())
