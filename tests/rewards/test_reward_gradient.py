"""RewardGradient: the reward's gradient at x_t or at the base posterior mean, and guided
sampling with it."""

from __future__ import annotations

import pytest
import torch

from rr_gym.diffusion import GuidanceConfig
from rr_gym.diffusion.guidance import GuideFn
from rr_gym.errors import ConfigError
from rr_gym.rewards import RewardGradient
from tests._factories import (
    ToyLinearReward,
    ToyQuadraticReward,
    gaussian,
    mlp_diffusion,
    relative_reward,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _x(batch: int = 4, horizon: int = 3, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, horizon, 2, generator=_gen(seed))


def test_guide_at_x_t_is_the_reward_gradient_there() -> None:
    reward = relative_reward(window=2)
    x, t = _x(), torch.tensor([0, 3, 6, 9])
    guide = RewardGradient(reward)
    assert isinstance(guide, GuideFn)
    torch.testing.assert_close(guide(x, t), reward.gradient(x, t))


def test_guide_points_along_a_linear_reward_and_scales_with_it() -> None:
    x, t = _x(), torch.zeros(4, dtype=torch.long)
    direction = RewardGradient(ToyLinearReward([[1.0, -2.0]]))(x, t)
    torch.testing.assert_close(direction, torch.tensor([1.0, -2.0]).expand(4, 3, 2))
    doubled = RewardGradient(ToyLinearReward([[2.0, -4.0]]))(x, t)
    torch.testing.assert_close(doubled, 2 * direction)
    # A mean over the H windows divides the gradient by H.
    mean = RewardGradient(ToyLinearReward([[1.0, -2.0]], reduction="mean"))(x, t)
    torch.testing.assert_close(mean, direction / 3)


def test_guide_uses_each_samples_diffusion_step() -> None:
    reward = ToyLinearReward([[1.0, 0.0]], t_slope=1.0)  # gradient (1 + t, 0)
    grad = RewardGradient(reward)(_x(batch=3), torch.tensor([0, 2, 5]))
    torch.testing.assert_close(grad[:, 0, 0], torch.tensor([1.0, 3.0, 6.0]))


def test_guide_of_a_quadratic_reward_points_to_its_peak() -> None:
    x = _x()
    grad = RewardGradient(ToyQuadraticReward([1.0, -1.0]))(x, torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(grad, -2 * (x - torch.tensor([1.0, -1.0])))


def test_guide_at_the_posterior_mean_takes_the_gradient_there() -> None:
    reward = ToyQuadraticReward([1.0, -1.0])  # its gradient depends on the point
    model = gaussian([0.0, 0.0], [0.5, 0.5], n_steps=10, horizon=3)
    x, t = _x(), torch.tensor([1, 4, 7, 9])
    guide = RewardGradient(reward, at="posterior_mean", diffusion=model)
    expected = reward.gradient(model.posterior_mean(x, t), t)
    torch.testing.assert_close(guide(x, t), expected)
    assert not torch.allclose(guide(x, t), reward.gradient(x, t))


def test_bad_options_are_config_errors() -> None:
    reward = relative_reward()
    with pytest.raises(ConfigError, match="at='x0'; expected 'x_t' or 'posterior_mean'"):
        RewardGradient(reward, at="x0")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs the diffusion model"):
        RewardGradient(reward, at="posterior_mean")


# ---------------------------------------------------------------------------- sampling
def _mean_reward(samples: torch.Tensor, goal: list[float]) -> float:
    return float(ToyQuadraticReward(goal)(samples).mean())


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
@pytest.mark.parametrize("at", ["x_t", "posterior_mean"])
def test_guided_sampling_moves_samples_towards_higher_reward(sampler: str, at: str) -> None:
    model = gaussian([0.0, 0.0], [0.5, 0.5], n_steps=20)
    goal = [1.5, -1.0]
    guide = RewardGradient(ToyQuadraticReward(goal), at=at, diffusion=model)  # type: ignore[arg-type]
    plain = model.sample(512, sampler=sampler, generator=_gen()).x  # type: ignore[arg-type]
    guided = model.sample(
        512,
        sampler=sampler,  # type: ignore[arg-type]
        guidance=GuidanceConfig(guide, scale=0.05),
        generator=_gen(),
    ).x
    assert _mean_reward(guided, goal) > _mean_reward(plain, goal) + 0.5
    shift = (guided - plain).mean((0, 1))
    assert shift[0] > 0.1 and shift[1] < -0.1, shift


def test_guided_sampling_with_a_learned_reward_runs_and_stays_finite() -> None:
    model = mlp_diffusion(horizon=2, n_steps=10)
    guide = RewardGradient(relative_reward(window=2), at="posterior_mean", diffusion=model)
    out = model.sample(
        8, guidance=GuidanceConfig(guide, scale=0.1, n_guide_steps=2), generator=_gen()
    )
    assert out.x.shape == (8, 2, 2) and torch.isfinite(out.x).all()


class _Recording(ToyLinearReward):
    """A linear reward that records the diffusion steps it is evaluated at."""

    def __init__(self) -> None:
        super().__init__([[1.0, 0.0]])
        self.steps: list[int] = []

    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.steps.append(int(t[0]))
        return super().window_reward(w, t)


def test_no_guidance_below_t_stopgrad() -> None:
    model = gaussian([0.0, 0.0], [0.5, 0.5], n_steps=10)
    plain = model.sample(64, generator=_gen()).x
    never = _Recording()
    off = model.sample(
        64,
        guidance=GuidanceConfig(RewardGradient(never), scale=0.5, t_stopgrad=10),
        generator=_gen(),
    ).x
    assert torch.equal(off, plain) and never.steps == []  # t_stopgrad = T: never guided
    late = _Recording()
    guided = model.sample(
        64, guidance=GuidanceConfig(RewardGradient(late), scale=0.5, t_stopgrad=6), generator=_gen()
    ).x
    assert late.steps == [9, 8, 7, 6]
    assert (guided - plain).mean(0)[0, 0] > 0.1


def test_guide_is_called_with_gradients_enabled_and_leaves_no_weight_grads() -> None:
    reward = relative_reward()
    model = mlp_diffusion(n_steps=5)
    model.sample(4, guidance=GuidanceConfig(RewardGradient(reward), scale=0.1), generator=_gen())
    assert all(p.grad is None for p in reward.parameters())
