"""MLPDenoiser: shapes, conditioning on t, size validation."""

from __future__ import annotations

import pytest
import torch

from rr_gym.diffusion import MLPDenoiser
from rr_gym.errors import ConfigError
from tests._factories import seeded


@pytest.mark.parametrize(("horizon", "dim"), [(1, 1), (1, 2), (4, 3), (8, 6)])
def test_output_shape_matches_input(horizon: int, dim: int) -> None:
    net = seeded(lambda: MLPDenoiser(horizon, dim, hidden_dim=16, depth=2, time_dim=8), 0)
    x = torch.randn(5, horizon, dim)
    out = net(x, torch.arange(5))
    assert out.shape == (5, horizon, dim)
    assert torch.isfinite(out).all()
    assert (net.horizon, net.transition_dim) == (horizon, dim)


def test_output_depends_on_step_and_input() -> None:
    net = seeded(lambda: MLPDenoiser(2, 3, hidden_dim=16, time_dim=8), 0)
    x = torch.randn(4, 2, 3)
    zeros, tens = torch.zeros(4, dtype=torch.long), torch.full((4,), 10)
    assert not torch.allclose(net(x, zeros), net(x, tens))
    assert not torch.allclose(net(x, zeros), net(x + 1, zeros))


def test_samples_are_processed_independently() -> None:
    net = seeded(lambda: MLPDenoiser(2, 3, hidden_dim=16, time_dim=8), 0)
    x, t = torch.randn(6, 2, 3), torch.arange(6)
    torch.testing.assert_close(net(x, t)[2:3], net(x[2:3], t[2:3]))


def test_config_records_constructor_arguments() -> None:
    net = MLPDenoiser(3, 2, hidden_dim=24, depth=2, time_dim=16)
    assert net.config == {
        "horizon": 3,
        "transition_dim": 2,
        "hidden_dim": 24,
        "depth": 2,
        "time_dim": 16,
    }


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"horizon": 0, "transition_dim": 2}, "horizon=0"),
        ({"horizon": 1, "transition_dim": 0}, "transition_dim=0"),
        ({"horizon": 1, "transition_dim": 2, "hidden_dim": 0}, "hidden_dim=0"),
        ({"horizon": 1, "transition_dim": 2, "depth": 0}, "depth=0"),
    ],
)
def test_non_positive_sizes_are_config_errors(kwargs: dict, name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        MLPDenoiser(**kwargs)
