"""DiffusionPlanner: inpainting of the observation, batching, replanning, guidance, checks."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from rr_gym.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule
from rr_gym.diffusion.analytic import GaussianMixtureDiffusion
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.planning import DiffusionPlanner
from rr_gym.rewards import RelativeRewardModel
from tests._factories import seeded

LAYOUT = TransitionLayout.from_sizes(observation=2, action=1)
DICT_LAYOUT = TransitionLayout.from_sizes(observation_key="observation", observation=2, action=1)


def oracle(
    action_mean: float = 0.0, horizon: int = 4, n_steps: int = 20, **kwargs: Any
) -> GaussianMixtureDiffusion:
    """Transitions ``[obs (2), action (1)]`` i.i.d. Gaussian, action centred on ``action_mean``."""
    return GaussianMixtureDiffusion(
        np.array([[0.0, 0.0, action_mean]]),
        np.full((1, 3), 0.5),
        NoiseSchedule(n_steps),
        horizon=horizon,
        layout=kwargs.pop("layout", LAYOUT),
        **kwargs,
    )


def mlp_model(
    layout: TransitionLayout = LAYOUT, normalizer: Normalizer | None = None
) -> GaussianDiffusion:
    return seeded(
        lambda: GaussianDiffusion(
            MLPDenoiser(4, layout.dim, hidden_dim=16, depth=1, time_dim=8),
            NoiseSchedule(10),
            layout=layout,
            normalizer=normalizer,
        ),
        0,
    )


class ScoreGap:
    """The exact guide that turns ``base`` into ``expert``: the gap of their noised scores."""

    def __init__(self, base: GaussianDiffusion, expert: GaussianDiffusion) -> None:
        self.base, self.expert = base, expert

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        sigma = self.base.schedule.coef("sqrt_one_minus_alphas_cumprod", t, x)
        return -(self.expert.estimate(x, t).eps - self.base.estimate(x, t).eps) / sigma


def test_single_and_batched_observations() -> None:
    planner = DiffusionPlanner(oracle())
    assert planner.predict(np.zeros(2)).shape == (1,)
    assert planner.predict(np.zeros((5, 2))).shape == (5, 1)
    dict_planner = DiffusionPlanner(oracle(layout=DICT_LAYOUT))
    obs = {"observation": np.zeros((3, 2)), "desired_goal": np.ones((3, 2))}
    assert dict_planner.predict(obs).shape == (3, 1)


def test_plans_start_at_the_observation_in_raw_space() -> None:
    norm = Normalizer(np.array([1.0, -2.0, 0.5]), np.array([2.0, 3.0, 1.0]), "gaussian")
    planner = DiffusionPlanner(mlp_model(normalizer=norm))
    obs = np.array([[3.0, 4.0], [-1.0, 0.5]], dtype=np.float32)
    plan = planner.plan(obs)
    assert plan.trajectories.shape == (2, 4, 3) and plan.actions.shape == (2, 4, 1)
    np.testing.assert_allclose(plan.trajectories[:, 0, :2], obs, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(plan.actions, plan.trajectories[..., 2:])


def test_actions_are_clipped_to_the_action_space() -> None:
    space = gym.spaces.Box(-0.1, 0.1, (1,), np.float32)
    plan = DiffusionPlanner(oracle(action_mean=3.0), action_space=space).plan(np.zeros((64, 2)))
    assert plan.actions.max() == pytest.approx(0.1) and plan.actions.min() >= -0.1


def test_clip_denoised_bounds_plans_in_normalised_space() -> None:
    norm = Normalizer(np.array([1.0, 2.0, 0.0]), np.array([2.0, 0.5, 1.0]), "gaussian")
    obs = np.zeros((32, 2), dtype=np.float32)
    plan = DiffusionPlanner(mlp_model(normalizer=norm), clip_denoised=0.05, seed=3).plan(obs)
    z = (plan.trajectories - norm.shift) / norm.scale
    # DDPM's last step is a posterior mean of the clipped x0 and x_1: nearly within the clip.
    assert np.abs(z[:, 1:]).max() <= 0.06
    free = DiffusionPlanner(mlp_model(normalizer=norm), seed=3).plan(obs)
    assert np.abs((free.trajectories - norm.shift) / norm.scale)[:, 1:].max() > 0.2
    with pytest.raises(ConfigError, match="clip_denoised=0"):
        DiffusionPlanner(mlp_model(), clip_denoised=0)


def test_exact_score_gap_guidance_moves_the_base_towards_the_expert() -> None:
    # Variance-scaled guidance with the true log density ratio at scale 1 is first-order
    # classifier guidance: the guided base samples nearly the expert's actions (mean 1.5,
    # std 0.5) although the base's are centred on 0. Measured: mean 1.32 at T = 100 and
    # 0.84 at T = 20 (the first-order error shrinks with T); a larger scale makes up for it.
    base, expert = oracle(0.0, n_steps=100), oracle(1.5, n_steps=100)
    obs = np.zeros((2000, 2))
    unguided = DiffusionPlanner(base, seed=1).plan(obs).actions
    guided = DiffusionPlanner(base, ScoreGap(base, expert), scale=1.0, seed=1).plan(obs).actions
    stronger = DiffusionPlanner(base, ScoreGap(base, expert), scale=1.5, seed=1).plan(obs).actions
    assert abs(unguided.mean()) < 0.05
    assert 1.2 <= guided.mean() <= 1.5
    assert guided.mean() < stronger.mean()
    assert guided.std() == pytest.approx(0.5, abs=0.05)
    # The observation is imposed, so guidance cannot move it.
    plan = DiffusionPlanner(base, ScoreGap(base, expert), scale=1.0).plan(np.ones((4, 2)))
    np.testing.assert_allclose(plan.trajectories[:, 0, :2], 1.0, rtol=1e-6)


def test_guidance_at_the_posterior_mean_with_a_reward_model() -> None:
    base = oracle()
    reward = seeded(
        lambda: RelativeRewardModel(LAYOUT, hidden_dim=8, schedule=base.schedule.to_dict()), 0
    )
    obs = np.zeros((16, 2))
    plain = DiffusionPlanner(base, seed=3).plan(obs).actions
    for at in ("x_t", "posterior_mean"):
        guided = DiffusionPlanner(base, reward, scale=5.0, guide_at=at, seed=3).plan(obs).actions  # type: ignore[arg-type]
        assert np.isfinite(guided).all() and not np.allclose(guided, plain)


def test_same_seed_same_actions_and_global_rng_untouched() -> None:
    state = torch.get_rng_state()
    a = DiffusionPlanner(mlp_model(), seed=7).predict(np.ones((3, 2)))
    b = DiffusionPlanner(mlp_model(), seed=7).predict(np.ones((3, 2)))
    c = DiffusionPlanner(mlp_model(), seed=8).predict(np.ones((3, 2)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)


def test_replanning_interval_and_episode_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    planner = DiffusionPlanner(mlp_model(), replan_every=3)
    planned: list[int] = []
    original = planner.plan

    def counting(obs: np.ndarray):  # type: ignore[no-untyped-def]
        planned.append(len(obs))
        return original(obs)

    monkeypatch.setattr(planner, "plan", counting)
    obs = np.zeros((4, 2))
    first = planner.predict(obs)
    second = planner.predict(obs)
    third = planner.predict(obs)
    assert planned == [4]
    plan_actions = planner._actions  # the plan being executed, open loop
    assert plan_actions is not None
    np.testing.assert_array_equal(np.stack([first, second, third], 1), plan_actions[:, :3])
    planner.predict(obs)  # the fourth call replans everything
    assert planned == [4, 4]
    planner.predict(obs, episode_start=np.array([True, False, False, True]))
    assert planned == [4, 4, 2]  # only the envs whose episode began
    planner.reset()
    planner.predict(obs[:2])
    assert planned == [4, 4, 2, 2]


def test_no_gradients_are_tracked_outside_the_guide() -> None:
    model = mlp_model()
    DiffusionPlanner(model).predict(np.zeros((2, 2)))
    assert all(not p.requires_grad for p in model.parameters())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"replan_every": 0}, ConfigError, "replan_every=0"),
        ({"replan_every": 5}, ConfigError, r"replan_every=5; expected 1..4"),
        ({"sampler": "euler"}, ConfigError, "sampler='euler'"),
        ({"sampler": "ddim", "n_steps": 11}, ConfigError, "n_steps=11"),
        ({"guide": 3.0}, ConfigError, "guide is a float"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        DiffusionPlanner(mlp_model(), **kwargs)


def test_a_model_without_actions_cannot_plan() -> None:
    with pytest.raises(ConfigError, match="no 'action' field"):
        DiffusionPlanner(mlp_model(layout=TransitionLayout.from_sizes(observation=3)))


def test_guides_of_another_layout_normaliser_schedule_or_window_are_refused() -> None:
    model = mlp_model()
    other_layout = TransitionLayout.from_sizes(observation=1, action=2)
    with pytest.raises(IncompatibleModelsError, match=r"observation:1, action:2.*observation:2"):
        DiffusionPlanner(model, RelativeRewardModel(other_layout, hidden_dim=4))
    other_norm = Normalizer(np.ones(3), np.ones(3), "gaussian")
    with pytest.raises(IncompatibleModelsError, match="normaliser"):
        DiffusionPlanner(model, RelativeRewardModel(LAYOUT, other_norm, hidden_dim=4))
    with pytest.raises(IncompatibleModelsError, match="schedule"):
        DiffusionPlanner(
            model, RelativeRewardModel(LAYOUT, hidden_dim=4, schedule=NoiseSchedule(50).to_dict())
        )
    with pytest.raises(IncompatibleModelsError, match="window 5 exceeds the model's horizon 4"):
        DiffusionPlanner(model, RelativeRewardModel(LAYOUT, window=5, hidden_dim=4))


@pytest.mark.parametrize(
    ("obs", "match"),
    [
        (np.zeros(3), r"shape \(3,\); expected \(2,\) or \(B, 2\)"),
        (np.zeros((2, 2, 2)), r"shape \(2, 2, 2\)"),
        (np.array([0.0, np.nan]), "observation"),
        ({"achieved_goal": np.zeros(2)}, r"keys \['achieved_goal'\]"),
    ],
)
def test_bad_observations(obs: Any, match: str) -> None:
    with pytest.raises(DataError, match=match):
        DiffusionPlanner(mlp_model()).predict(obs)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_plans_on_cuda_match_the_model_device() -> None:
    model = mlp_model().to("cuda")
    reward = RelativeRewardModel(LAYOUT, hidden_dim=8, schedule=model.schedule.to_dict())
    planner = DiffusionPlanner(model, reward, scale=0.5, sampler="ddim", n_steps=5)
    assert reward.device.type == "cuda"
    actions = planner.predict(np.zeros((8, 2)))
    assert actions.shape == (8, 1) and np.isfinite(actions).all()


@pytest.mark.slow
def test_a_planner_trained_with_the_defaults_acts_like_its_data() -> None:
    """Diffuser's choices (x0 prediction, the current state imposed in training, action
    weight 10) are the defaults: at T = 20 a planner acts like the policy of its data."""
    import rr_gym
    from rr_gym.planning.feedback import feedback_windows, first_action_r2

    data = feedback_windows(horizon=8)
    options: dict[str, Any] = {
        "horizon": 8,
        "steps": 1000,
        "n_diffusion_steps": 20,
        "denoiser": "mlp",
        "network": {"hidden_dim": 128, "depth": 2},
        "device": "cpu",
        "progress": False,
    }
    model = rr_gym.train_diffusion(data, **options)
    assert not model.predict_epsilon and model.condition_field == "observation"
    assert model.action_weight == 10.0
    assert first_action_r2(model) >= 0.9
    # the former defaults (noise prediction, nothing imposed in training) diverge at T = 20
    legacy = {"predict_epsilon": True, "condition_field": None, "action_weight": 1.0}
    assert first_action_r2(rr_gym.train_diffusion(data, **options, **legacy)) < 0.5
