"""TorchRewardModel: windowing and reduction, diffusion steps, gradients, ``predict`` and
input validation; the RewardModel protocol."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rr_gym import RewardModel
from rr_gym.errors import ConfigError, DataError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import RelativeRewardModel, TorchRewardModel
from tests._factories import ToyLinearReward, ToyQuadraticReward, relative_reward

NORM = Normalizer(np.array([1.0, -2.0]), np.array([0.5, 4.0]), "gaussian")


def _x(batch: int = 3, horizon: int = 5, dim: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, horizon, dim, generator=torch.Generator().manual_seed(seed))


def _manual(reward: TorchRewardModel, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The trajectory reward by an explicit loop over the windows of ``x`` ``(B, H, D)``."""
    w = reward.window
    per_window = [
        reward.window_reward(x[:, i : i + w], t) for i in range(x.shape[1] - w + 1)
    ]  # each (B,)
    stacked = torch.stack(per_window, 1)
    return stacked.sum(1) if reward.reduction == "sum" else stacked.mean(1)


# ---------------------------------------------------------------------------- windowing
def test_window_one_is_a_markov_reward_summed_over_transitions() -> None:
    reward = relative_reward()
    x = _x(horizon=4)
    t = torch.tensor([0, 3, 7])
    with torch.no_grad():
        per_step = [reward.window_reward(x[:, h : h + 1], t) for h in range(4)]
        torch.testing.assert_close(reward(x, t), sum(per_step))


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize(("window", "horizon"), [(1, 5), (2, 5), (3, 6), (4, 4)])
def test_windows_match_a_manual_loop(reduction: str, window: int, horizon: int) -> None:
    reward = relative_reward(window=window, reduction=reduction)
    x = _x(horizon=horizon)
    t = torch.tensor([0, 4, 9])
    with torch.no_grad():
        out = reward(x, t)
        assert out.shape == (3,)
        torch.testing.assert_close(out, _manual(reward, x, t))


def test_mean_is_sum_over_the_number_of_windows() -> None:
    x = _x(horizon=6)
    total = relative_reward(window=2, reduction="sum")
    mean = relative_reward(window=2, reduction="mean")
    with torch.no_grad():
        torch.testing.assert_close(mean(x, 1), total(x, 1) / 5)


def test_window_order_within_a_window_is_kept() -> None:
    # Only the second transition of each window of 2 counts: the sum over windows of
    # x[:, k + 1, 0] for k = 0..H-2 is the sum of x[:, 1:, 0].
    reward = ToyLinearReward([[0.0, 0.0], [1.0, 0.0]])
    x = _x(horizon=5)
    torch.testing.assert_close(reward(x), x[:, 1:, 0].sum(1))


# ---------------------------------------------------------------------------- steps t
def test_int_step_equals_a_constant_step_tensor() -> None:
    reward = relative_reward(window=2)
    x = _x()
    with torch.no_grad():
        expected = reward(x, torch.full((3,), 6))
        for t in (6, np.int64(6), torch.tensor(6)):
            torch.testing.assert_close(reward(x, t), expected)  # type: ignore[arg-type]


def test_per_sample_steps_score_each_row_at_its_own_step() -> None:
    reward = relative_reward(window=2)
    x = _x()
    t = torch.tensor([0, 5, 9])
    with torch.no_grad():
        out = reward(x, t)
        rows = [reward(x[i : i + 1], int(t[i])) for i in range(3)]
    torch.testing.assert_close(out, torch.cat(rows))
    assert not torch.equal(out, reward(x, 0).detach())


def test_steps_of_the_wrong_shape_are_a_data_error() -> None:
    with pytest.raises(DataError, match=r"steps t have shape \(2,\); expected an int or \(3,\)"):
        relative_reward()(_x(), torch.tensor([1, 2]))


def test_step_dependence_goes_through_to_the_window_reward() -> None:
    reward = ToyLinearReward([[1.0, 2.0]], t_slope=0.5)
    x = _x()
    torch.testing.assert_close(reward(x, 2), 2.0 * reward(x, 0))


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("t", [0, 7])
def test_gradient_equals_autograd_of_forward(t: int) -> None:
    reward = relative_reward(window=2, reduction="mean")
    x = _x().requires_grad_(True)
    (expected,) = torch.autograd.grad(reward(x, t).sum(), x)
    got = reward.gradient(x.detach(), t)
    assert got.shape == x.shape
    torch.testing.assert_close(got, expected)


def test_gradient_of_a_linear_reward_counts_the_windows_through_each_step() -> None:
    # r = sum over windows i of c0 . x[i] + c1 . x[i + 1]: the first step is only in window 0
    # (gets c0), the last only in the last window (gets c1), the others get c0 + c1.
    reward = ToyLinearReward([[1.0, 0.0], [0.0, 2.0]])
    grad = reward.gradient(_x(batch=2, horizon=4))
    expected = torch.tensor([[1.0, 0.0], [1.0, 2.0], [1.0, 2.0], [0.0, 2.0]]).expand(2, 4, 2)
    torch.testing.assert_close(grad, expected)


def test_gradient_works_under_no_grad_and_leaves_parameter_grads_alone() -> None:
    reward = relative_reward()
    x = _x()
    with torch.no_grad():
        grad = reward.gradient(x, 3)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert all(p.grad is None for p in reward.parameters())
    assert not x.requires_grad


# ---------------------------------------------------------------------------- predict
def test_predict_on_points_equals_predict_on_one_step_windows() -> None:
    reward = relative_reward()
    raw = np.random.default_rng(0).normal(size=(7, 2))
    out = reward.predict(raw, t=2)
    assert out.shape == (7,) and out.dtype == np.float32
    np.testing.assert_array_equal(out, reward.predict(raw[:, None, :], t=2))


def test_predict_on_windows_equals_forward() -> None:
    reward = relative_reward(window=2)
    raw = np.random.default_rng(0).normal(size=(6, 4, 2)).astype(np.float32)
    with torch.no_grad():
        expected = reward(torch.as_tensor(raw), 5).numpy()
    np.testing.assert_allclose(reward.predict(raw, t=5), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 3, 10, 11])
def test_predict_in_batches_gives_the_same_result(batch_size: int) -> None:
    reward = relative_reward(window=2)
    raw = np.random.default_rng(1).normal(size=(10, 3, 2))
    np.testing.assert_allclose(
        reward.predict(raw, batch_size=batch_size), reward.predict(raw), rtol=1e-6, atol=1e-6
    )


def test_predict_of_no_rows_is_empty() -> None:
    assert relative_reward().predict(np.zeros((0, 2))).shape == (0,)


def test_predict_batch_size_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="batch_size=0"):
        relative_reward().predict(np.zeros((3, 2)), batch_size=0)


@pytest.mark.parametrize("training", [True, False])
def test_predict_leaves_the_training_mode_as_it_was(training: bool) -> None:
    reward = relative_reward()
    reward.train(training)
    reward.predict(np.zeros((2, 2)))
    assert reward.training is training
    assert all(m.training is training for m in reward.modules())


class _Failing(ToyLinearReward):
    def window_reward(self, w: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom")


def test_predict_restores_the_training_mode_when_forward_fails() -> None:
    reward = _Failing([[1.0, 1.0]])
    reward.train()
    with pytest.raises(RuntimeError, match="boom"):
        reward.predict(np.zeros((2, 2)))
    assert reward.training


def test_predict_normalises_and_forward_does_not() -> None:
    reward = relative_reward(normalizer=NORM)
    raw = np.random.default_rng(0).normal(size=(5, 3, 2)).astype(np.float32)
    with torch.no_grad():
        on_normalised = reward(torch.as_tensor(NORM.normalize(raw)), 0).numpy()
        on_raw = reward(torch.as_tensor(raw), 0).numpy()
    predicted = reward.predict(raw)
    np.testing.assert_allclose(predicted, on_normalised, rtol=1e-6, atol=1e-6)
    assert not np.allclose(predicted, on_raw)


def test_identity_normaliser_by_default() -> None:
    reward = relative_reward(TransitionLayout.flat(3))
    assert reward.normalizer == Normalizer.identity(3)


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((4,), r"predict got shape \(4,\)"),
        ((2, 3, 4, 2), r"predict got shape \(2, 3, 4, 2\)"),
        ((4, 3), r"predict got shape \(4, 3\); expected \(N, H, 2\)"),
        ((4, 5, 3), r"predict got shape \(4, 5, 3\)"),
    ],
)
def test_predict_refuses_wrong_rank_or_size(shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(DataError, match=match):
        relative_reward().predict(np.zeros(shape))


def test_predict_refuses_fewer_steps_than_the_window() -> None:
    reward = relative_reward(window=3)
    with pytest.raises(DataError, match=r"shape \(4, 2, 2\).*H >= window=3"):
        reward.predict(np.zeros((4, 2, 2)))
    with pytest.raises(DataError, match=r"shape \(4, 2\).*H >= window=3"):
        reward.predict(np.zeros((4, 2)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_predict_refuses_non_finite_values_naming_where(bad: float) -> None:
    raw = np.zeros((3, 2, 2))
    raw[1, 0, 1] = bad
    with pytest.raises(DataError, match=r"reward input has 1 non-finite.*index \(1, 0, 1\)"):
        relative_reward().predict(raw)


@pytest.mark.parametrize(
    ("shape", "match"),
    [
        ((3, 2), r"shape \(3, 2\)"),
        ((3, 4, 5), r"shape \(3, 4, 5\); expected \(B, H, 2\)"),
        ((3, 1, 2), r"shape \(3, 1, 2\).*H >= window=2"),
    ],
)
def test_forward_refuses_wrong_shapes(shape: tuple[int, ...], match: str) -> None:
    with pytest.raises(DataError, match=match):
        relative_reward(window=2)(torch.zeros(shape))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": 0}, "window=0"),
        ({"reduction": "max"}, "reduction='max'; expected 'sum' or 'mean'"),
        ({"normalizer": Normalizer.identity(3)}, "normalizer dim 3 does not match layout dim 2"),
    ],
)
def test_bad_options_are_config_errors(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RelativeRewardModel(TransitionLayout.flat(2), hidden_dim=8, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- protocol, device
def test_torch_rewards_satisfy_the_reward_model_protocol() -> None:
    assert isinstance(relative_reward(), RewardModel)
    assert isinstance(ToyQuadraticReward([0.0, 0.0]), RewardModel)
    assert not isinstance(torch.nn.Linear(2, 1), RewardModel)


def test_device_of_a_reward_with_parameters_or_only_buffers() -> None:
    assert relative_reward().device == torch.device("cpu")
    assert ToyQuadraticReward([0.0]).device == torch.device("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_predict_on_cuda_matches_cpu_for_networks_and_buffer_only_rewards() -> None:
    raw = np.random.default_rng(0).normal(size=(9, 3, 2))
    for reward in (relative_reward(window=2, normalizer=NORM), ToyQuadraticReward([1.0, -1.0])):
        expected = reward.predict(raw)
        reward.to("cuda")
        assert reward.device.type == "cuda"
        np.testing.assert_allclose(reward.predict(raw), expected, rtol=1e-5, atol=1e-5)
        grad = reward.gradient(torch.as_tensor(raw, dtype=torch.float32, device="cuda"))
        assert grad.device.type == "cuda"
