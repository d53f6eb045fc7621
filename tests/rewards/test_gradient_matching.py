"""GradientMatchingTrainer: refusal of incompatible models and bad options, the loss checked
by hand on one batch, every variant running, and the L2 term on rho."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch

from rr_gym.diffusion import GaussianDiffusion, NoiseSchedule
from rr_gym.diffusion.analytic import GaussianMixtureDiffusion
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import GradientMatchingTrainer, RelativeRewardModel, TorchRewardModel
from rr_gym.trainer import TrainConfig
from tests._factories import gaussian, relative_reward

CPU = torch.device("cpu")
DATA = torch.as_tensor(np.random.default_rng(0).normal(size=(64, 1, 2)), dtype=torch.float32)


def _config(steps: int = 3, **kwargs: object) -> TrainConfig:
    options: dict[str, object] = {"batch_size": 16, "lr": 1e-3, "log_every": 1, "progress": False}
    options.update(kwargs)
    return TrainConfig(steps=steps, **options)  # type: ignore[arg-type]


def _pair(n_steps: int = 10) -> tuple[GaussianMixtureDiffusion, GaussianMixtureDiffusion]:
    return gaussian([0.0, 0.0], [1.0, 1.0], n_steps), gaussian([1.0, -0.5], [0.5, 0.8], n_steps)


def _trainer(
    base: GaussianDiffusion | None = None,
    expert: GaussianDiffusion | None = None,
    reward: RelativeRewardModel | None = None,
    data: torch.Tensor = DATA,
    config: TrainConfig | None = None,
    **options: object,
) -> GradientMatchingTrainer:
    pair = _pair()
    return GradientMatchingTrainer(
        reward if reward is not None else relative_reward(),
        base if base is not None else pair[0],
        expert if expert is not None else pair[1],
        data,
        config if config is not None else _config(),
        CPU,
        **options,  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------- compatibility
def _mixture(**kwargs: object) -> GaussianMixtureDiffusion:
    options: dict[str, object] = {"schedule": NoiseSchedule(10), **kwargs}
    return GaussianMixtureDiffusion(np.zeros((1, 2)), np.ones((1, 2)), **options)  # type: ignore[arg-type]


NORM_A = Normalizer(np.array([0.0, 1.0]), np.array([1.0, 1.0]), "gaussian")
NORM_B = Normalizer(np.array([0.0, 2.5]), np.array([1.0, 1.0]), "gaussian")
OBS_ACT = TransitionLayout.from_sizes(observation=1, action=1)


@pytest.mark.parametrize(
    ("expert_kwargs", "shown"),
    [
        (
            {"schedule": NoiseSchedule(20, "linear")},
            ["noise schedule", "n_steps=10, kind='cosine'", "n_steps=20, kind='linear'"],
        ),
        ({"horizon": 2}, ["horizon: base has 1, expert has 2"]),
        ({"layout": OBS_ACT}, ["transition layout", "('x', 2)", "('observation', 1)"]),
        ({"normalizer": NORM_B}, ["normalizer", "1.0", "2.5"]),
    ],
)
def test_incompatible_base_and_expert_are_refused_naming_both(
    expert_kwargs: dict[str, object], shown: list[str]
) -> None:
    base = _mixture(normalizer=NORM_A) if "normalizer" in expert_kwargs else _mixture()
    reward = relative_reward(normalizer=base.normalizer)
    with pytest.raises(IncompatibleModelsError) as info:
        _trainer(base, _mixture(**expert_kwargs), reward)
    for text in shown:
        assert text in str(info.value), (text, str(info.value))


def test_reward_with_another_layout_is_refused_naming_both() -> None:
    with pytest.raises(IncompatibleModelsError, match="reward has layout") as info:
        _trainer(reward=relative_reward(OBS_ACT))
    assert "observation:1, action:1" in str(info.value) and "x:2" in str(info.value)


def test_reward_with_another_normalizer_is_refused_naming_both() -> None:
    base, expert = _mixture(normalizer=NORM_A), _mixture(normalizer=NORM_A)
    with pytest.raises(IncompatibleModelsError, match="reward has normalizer") as info:
        _trainer(base, expert, relative_reward(normalizer=NORM_B))
    assert "[0.0, 2.5]" in str(info.value) and "[0.0, 1.0]" in str(info.value)
    # Without a normalizer the reward gets the identity, which differs from the models'.
    with pytest.raises(IncompatibleModelsError, match="'identity'"):
        _trainer(base, expert, relative_reward())


def test_reward_window_longer_than_the_horizon_is_refused() -> None:
    with pytest.raises(IncompatibleModelsError, match=r"window=2 exceeds .* horizon 1"):
        _trainer(reward=relative_reward(window=2))


@pytest.mark.parametrize("shape", [(64, 2), (64, 2, 2), (64, 1, 3)])
def test_data_of_the_wrong_shape_is_a_data_error(shape: tuple[int, ...]) -> None:
    with pytest.raises(DataError, match=r"expected \(N, 1, 2\)"):
        _trainer(data=torch.zeros(shape))


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"target": "eps"}, r"target='eps'; expected one of \['posterior_mean', 'score'\]"),
        ({"eval_at": "x0"}, r"eval_at='x0'; expected one of \['posterior_mean', 'x_t'\]"),
        ({"source": "expert_chain"}, r"source='expert_chain'; expected one of"),
        ({"l2": -0.5}, "l2=-0.5"),
        ({"l2": float("nan")}, "l2=nan"),
        ({"l2": float("inf")}, "l2=inf"),
        ({"chain_pool_size": 0}, "chain_pool_size=0"),
        ({"chain_refresh": 0}, "chain_refresh=0"),
    ],
)
def test_bad_options_are_config_errors_naming_the_value(
    options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        _trainer(**options)


# ---------------------------------------------------------------------------- every variant
VARIANTS = list(
    itertools.product(
        ["posterior_mean", "score"], ["posterior_mean", "x_t"], ["data", "base_chain"]
    )
)


@pytest.mark.parametrize(("target", "eval_at", "source"), VARIANTS)
def test_every_variant_trains_with_finite_losses(target: str, eval_at: str, source: str) -> None:
    trainer = _trainer(
        target=target,
        eval_at=eval_at,
        source=source,
        chain_pool_size=4,
        chain_refresh=2,
    )
    before = {k: v.clone() for k, v in trainer.module.state_dict().items()}
    result = trainer.fit()
    assert result.steps == 3 and len(result.history) == 3
    for entry in result.history:
        assert np.isfinite(entry["loss"]) and np.isfinite(entry["match"])
        assert entry["loss"] == pytest.approx(entry["match"])  # no L2 term
    after = trainer.module.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert trainer.model().training_config["target"] == target  # type: ignore[attr-defined]


def test_base_chain_points_come_from_the_base_sampling_chain() -> None:
    trainer = _trainer(source="base_chain", chain_pool_size=3, chain_refresh=100)
    xt, t, _ = trainer._noisy_batch(DATA[:16])
    assert trainer._pool is not None
    chain, steps = trainer._pool
    assert chain.shape == (10, 3, 1, 2) and torch.equal(steps, torch.arange(9, -1, -1))
    for x, step in zip(xt, t, strict=True):
        row = chain[9 - int(step)]  # the chain entry that is the input at this step
        assert any(torch.equal(x, candidate) for candidate in row)


# ---------------------------------------------------------------------------- the loss
def _replayed_noisy_batch(
    trainer: GradientMatchingTrainer, x0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x_t, t)`` drawn like Algorithm 1 from a copy of the trainer's generator state."""
    gen = torch.Generator().set_state(trainer.generator.get_state())
    schedule = trainer.base.schedule
    t = torch.randint(0, schedule.n_steps, (x0.shape[0],), generator=gen)
    noise = torch.randn(x0.shape, generator=gen)
    ac = torch.as_tensor(schedule.array("alphas_cumprod"), dtype=torch.float32)[t][:, None, None]
    return ac.sqrt() * x0 + (1 - ac).sqrt() * noise, t


def _reward_gradient(
    reward: TorchRewardModel, point: torch.Tensor, t: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    v = point.detach().clone().requires_grad_(True)
    rho = reward(v, t)
    (grad,) = torch.autograd.grad(rho.sum(), v)
    return grad, rho.detach()


@pytest.mark.parametrize("l2", [0.0, 0.5])
@pytest.mark.parametrize("eval_at", ["posterior_mean", "x_t"])
@pytest.mark.parametrize("target", ["posterior_mean", "score"])
def test_loss_equals_the_formula_on_one_batch(target: str, eval_at: str, l2: float) -> None:
    trainer = _trainer(target=target, eval_at=eval_at, l2=l2)
    base, expert = trainer.base, trainer.expert
    x0 = DATA[:32]
    xt, t = _replayed_noisy_batch(trainer, x0)
    with torch.no_grad():
        m_b, m_e = base.posterior_mean(xt, t), expert.posterior_mean(xt, t)
        eps_b, eps_e = base.estimate(xt, t).eps, expert.estimate(xt, t).eps
    point = m_b if eval_at == "posterior_mean" else xt
    grad, rho = _reward_gradient(trainer.reward, point, t)
    if target == "posterior_mean":
        match = torch.mean((grad - (m_e - m_b)) ** 2)
    else:
        ac = torch.as_tensor(trainer.base.schedule.array("alphas_cumprod"), dtype=torch.float32)
        sigma = (1 - ac[t]).sqrt()[:, None, None]
        per_sample = ((grad + (eps_e - eps_b) / sigma) ** 2).mean((1, 2))
        match = torch.mean(sigma.reshape(-1) ** 2 * per_sample)
    expected = match + l2 * torch.mean(rho**2)
    loss, logs = trainer.compute_loss(x0)
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(logs["match"], match, rtol=1e-5, atol=1e-7)
    assert loss.requires_grad  # the double backward reaches the weights
    assert float(match) > 0


@pytest.mark.parametrize("eval_at", ["posterior_mean", "x_t"])
@pytest.mark.parametrize("target", ["posterior_mean", "score"])
def test_identical_models_give_a_zero_target(target: str, eval_at: str) -> None:
    base, same = gaussian([0.5, -1.0], [0.7, 1.2]), gaussian([0.5, -1.0], [0.7, 1.2])
    trainer = _trainer(base, same, target=target, eval_at=eval_at)
    x0 = DATA[:32]
    xt, t = _replayed_noisy_batch(trainer, x0)
    with torch.no_grad():
        point = base.posterior_mean(xt, t) if eval_at == "posterior_mean" else xt
    grad, _ = _reward_gradient(trainer.reward, point, t)
    if target == "posterior_mean":
        expected = torch.mean(grad**2)
    else:
        ac = torch.as_tensor(base.schedule.array("alphas_cumprod"), dtype=torch.float32)[t]
        expected = torch.mean((1 - ac) * (grad**2).mean((1, 2)))
    loss, logs = trainer.compute_loss(x0)
    torch.testing.assert_close(logs["match"], expected, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-8)


def test_a_constant_reward_is_optimal_for_identical_models() -> None:
    base = gaussian([0.0, 0.0], [1.0, 1.0])
    trainer = _trainer(base, gaussian([0.0, 0.0], [1.0, 1.0]), config=_config(steps=150, lr=3e-3))
    first = trainer.compute_loss(DATA)[0].item()
    trainer.fit()
    assert trainer.history[-1]["match"] < 0.1 * first


def test_compute_loss_does_not_touch_the_frozen_models() -> None:
    trainer = _trainer()
    loss, _ = trainer.compute_loss(DATA[:8])
    loss.backward()
    assert all(p.grad is None for p in trainer.base.parameters())
    assert all(p.grad is None for p in trainer.expert.parameters())


# ---------------------------------------------------------------------------- L2 on rho
def _mean_abs_rho(l2: float) -> float:
    reward = relative_reward(hidden_dim=16)
    head = reward.net.mlp[-1]
    assert isinstance(head, torch.nn.Linear)
    with torch.no_grad():
        head.bias.add_(2.0)  # a free constant far from 0
    trainer = _trainer(
        reward=reward, config=_config(steps=200, lr=1e-2, ema_decay=None, batch_size=32), l2=l2
    )
    trainer.fit()
    held_out = torch.as_tensor(np.random.default_rng(1).normal(size=(256, 1, 2)))
    with torch.no_grad():
        return float(reward(held_out.float(), 0).abs().mean())


def test_l2_pulls_rho_towards_zero() -> None:
    free, pinned = _mean_abs_rho(0.0), _mean_abs_rho(1.0)
    assert pinned < 0.5 * free, (pinned, free)


# ---------------------------------------------------------------------------- conditioned models
def _conditioned_pair(horizon: int = 4) -> tuple[GaussianDiffusion, GaussianDiffusion]:
    """Two tiny x0-predicting MLP models that impose the observation at step 0 (the
    trajectory defaults)."""
    from tests._factories import mlp_diffusion

    models = [mlp_diffusion(horizon, 2, seed=s, layout=OBS_ACT) for s in (0, 1)]
    assert all(m.condition_field == "observation" for m in models)
    return models[0], models[1]


def test_conditioned_models_see_a_clean_current_state_and_have_no_target_there() -> None:
    base, expert = _conditioned_pair()
    data = torch.randn(32, 4, 2)
    reward = relative_reward(OBS_ACT)
    trainer = GradientMatchingTrainer(reward, base, expert, data, _config(), CPU)
    x0 = data[:16]
    xt, _, _ = trainer._noisy_batch(x0)
    torch.testing.assert_close(xt[:, 0, 0], x0[:, 0, 0])  # the imposed state is clean
    assert not torch.allclose(xt[:, 1:], x0[:, 1:])  # everything else is noised
    # the loss does not read the models' (untrained) outputs at the imposed entries
    weights = trainer._target_weights
    assert weights[0, 0] == 0 and bool((weights.flatten()[1:] == 1).all())


@pytest.mark.parametrize("source", ["data", "base_chain"])
def test_the_loss_ignores_the_models_outputs_at_imposed_entries(source: str) -> None:
    """Changing what the expert predicts at the imposed entry leaves the loss unchanged."""
    base, expert = _conditioned_pair()
    data = torch.randn(32, 4, 2)
    options = {"source": source, "chain_pool_size": 4, "chain_refresh": 100}

    def loss(model: GaussianDiffusion) -> torch.Tensor:
        trainer = GradientMatchingTrainer(
            relative_reward(OBS_ACT), base, model, data, _config(seed=3), CPU, **options
        )
        return trainer.compute_loss(data[:16])[0].detach()

    class Shifted(torch.nn.Module):
        """The expert's network with its step-0 observation output moved by 100."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner, self.horizon, self.transition_dim = inner, 4, 2

        def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            out = self.inner(x, t).clone()
            out[:, 0, 0] += 100.0
            return out

    shifted = GaussianDiffusion(
        Shifted(expert.model), expert.schedule, layout=OBS_ACT, predict_epsilon=False
    )
    torch.testing.assert_close(loss(shifted), loss(expert))


def test_base_and_expert_must_impose_the_same_entries() -> None:
    from tests._factories import mlp_diffusion

    base = mlp_diffusion(4, 2, layout=OBS_ACT)
    expert = mlp_diffusion(4, 2, layout=OBS_ACT, condition_field=None)
    with pytest.raises(IncompatibleModelsError, match="condition_field: base has 'observation'"):
        _trainer(base, expert, data=torch.randn(8, 4, 2), reward=relative_reward(OBS_ACT))


# ------------------------------------------------------------------ transitions per window
def _window_trainer(k: int | None, seed: int, reward_seed: int = 0) -> GradientMatchingTrainer:
    base, expert = _conditioned_pair()
    reward = relative_reward(OBS_ACT, seed=reward_seed)
    data = torch.randn(32, 4, 2, generator=torch.Generator().manual_seed(1))
    config = _config(seed=seed)
    return GradientMatchingTrainer(
        reward, base, expert, data, config, CPU, transitions_per_window=k
    )


def test_matching_a_subset_of_transitions_estimates_the_full_loss_without_bias() -> None:
    """For a window-1 reward the loss is a sum of per-transition terms: over many draws of
    which transitions are matched (on the same noised windows), the mean of the loss at
    k = 2 of 4 transitions equals the loss at all 4, while single draws differ."""
    batch = torch.randn(16, 4, 2, generator=torch.Generator().manual_seed(2))
    full, part = [], []
    for seed in range(300):  # a seed fixes x_t and t; the subset is drawn after them
        full.append(float(_window_trainer(None, seed).compute_loss(batch)[0]))
        part.append(float(_window_trainer(2, seed).compute_loss(batch)[0]))
    full_arr, part_arr = np.array(full), np.array(part)
    assert not np.allclose(full_arr, part_arr)
    assert abs(part_arr.mean() - full_arr.mean()) < 0.03 * full_arr.mean()


def test_all_transitions_per_window_is_the_full_loss() -> None:
    batch = torch.randn(16, 4, 2)
    for k in (4, 10):  # k >= H matches every transition
        torch.testing.assert_close(
            _window_trainer(k, seed=5).compute_loss(batch)[0],
            _window_trainer(None, seed=5).compute_loss(batch)[0],
        )


@pytest.mark.parametrize(("k", "match"), [(0, "transitions_per_window=0"), (1.5, "int")])
def test_bad_transitions_per_window_is_refused(k: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _window_trainer(k, seed=0)  # type: ignore[arg-type]


def test_transitions_per_window_needs_a_window_1_reward() -> None:
    base, expert = _conditioned_pair()
    reward = relative_reward(OBS_ACT, window=2)
    with pytest.raises(ConfigError, match="needs a window-1 reward"):
        GradientMatchingTrainer(
            reward, base, expert, torch.randn(8, 4, 2), _config(), CPU, transitions_per_window=2
        )


def test_by_default_a_window_1_reward_matches_4_transitions_per_window() -> None:
    base, expert = _conditioned_pair(horizon=8)
    data = torch.randn(8, 8, 2)

    def chosen(window: int) -> object:
        reward = relative_reward(OBS_ACT, window=window)
        trainer = GradientMatchingTrainer(reward, base, expert, data, _config(), CPU)
        return trainer.options()["transitions_per_window"]

    assert chosen(1) == 4
    assert chosen(2) is None  # overlapping windows: every transition
