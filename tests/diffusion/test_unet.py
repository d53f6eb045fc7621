"""TemporalUnet: shapes over horizons, dims and depths; horizon divisibility; conditioning."""

from __future__ import annotations

import pytest
import torch

from rr_gym.diffusion import TemporalUnet
from rr_gym.errors import ConfigError
from tests._factories import seeded


@pytest.mark.parametrize(
    ("horizon", "dim", "mults"),
    [(8, 3, (1, 2)), (4, 5, (1, 2, 4)), (16, 2, (1, 2, 4)), (12, 1, (1, 2)), (3, 4, (1,))],
)
def test_output_shape_matches_input(horizon: int, dim: int, mults: tuple[int, ...]) -> None:
    net = seeded(lambda: TemporalUnet(horizon, dim, dim=16, dim_mults=mults, kernel_size=3), 0)
    x = torch.randn(3, horizon, dim)
    out = net(x, torch.tensor([0, 5, 9]))
    assert out.shape == (3, horizon, dim)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize(
    ("horizon", "mults", "factor"), [(6, (1, 2, 4), 4), (1, (1, 2), 2), (10, (1, 2, 4, 8), 8)]
)
def test_horizon_not_divisible_names_the_value(
    horizon: int, mults: tuple[int, ...], factor: int
) -> None:
    with pytest.raises(
        ConfigError, match=f"horizon={horizon} must be a positive multiple of {factor}"
    ):
        TemporalUnet(horizon, 3, dim=16, dim_mults=mults)


def test_dim_must_be_a_multiple_of_groups() -> None:
    with pytest.raises(ConfigError, match="dim=12 must be a multiple of groups=8"):
        TemporalUnet(8, 3, dim=12, dim_mults=(1, 2))


def test_output_depends_on_step_and_other_timesteps() -> None:
    net = seeded(lambda: TemporalUnet(8, 2, dim=16, dim_mults=(1, 2)), 0)
    x = torch.randn(2, 8, 2)
    t = torch.tensor([3, 3])
    assert not torch.allclose(net(x, t), net(x, t + 4))
    moved = x.clone()
    moved[:, 7] += 1.0  # the convolutions mix the horizon: step 0's output changes too
    assert not torch.allclose(net(x, t)[:, 0], net(moved, t)[:, 0])


def test_samples_are_processed_independently() -> None:
    net = seeded(lambda: TemporalUnet(8, 2, dim=16, dim_mults=(1, 2)), 0)
    x, t = torch.randn(4, 8, 2), torch.tensor([0, 1, 2, 3])
    torch.testing.assert_close(net(x, t)[1:2], net(x[1:2], t[1:2]), rtol=1e-5, atol=1e-5)


def test_config_is_json_friendly() -> None:
    net = TemporalUnet(8, 3, dim=16, dim_mults=(1, 2))
    assert net.config == {
        "horizon": 8,
        "transition_dim": 3,
        "dim": 16,
        "dim_mults": [1, 2],
        "kernel_size": 5,
        "groups": 8,
    }
