"""The denoiser registry: rebuilding any denoiser from its class name and config."""

from __future__ import annotations

import pytest
import torch

from rr_gym.diffusion import Denoiser, MLPDenoiser, TemporalUnet, build_denoiser
from rr_gym.errors import CheckpointError
from tests._factories import seeded

BUILDERS = [
    lambda: MLPDenoiser(2, 3, hidden_dim=16, depth=2, time_dim=8),
    lambda: TemporalUnet(8, 3, dim=16, dim_mults=(1, 2)),
]


@pytest.mark.parametrize("build", BUILDERS)
def test_build_denoiser_round_trip(build: object) -> None:
    net: Denoiser = seeded(build, 0)  # type: ignore[arg-type]
    rebuilt = seeded(lambda: build_denoiser(type(net).__name__, **net.config), 1)
    assert type(rebuilt) is type(net)
    assert rebuilt.config == net.config
    rebuilt.load_state_dict(net.state_dict(), strict=True)
    x, t = torch.randn(2, net.horizon, net.transition_dim), torch.tensor([1, 7])
    torch.testing.assert_close(rebuilt(x, t), net(x, t), rtol=0, atol=0)


def test_unknown_denoiser_is_a_checkpoint_error_listing_known_ones() -> None:
    with pytest.raises(CheckpointError, match="unknown denoiser 'ConvNet'") as info:
        build_denoiser("ConvNet", horizon=1, transition_dim=2)
    assert "MLPDenoiser" in str(info.value) and "TemporalUnet" in str(info.value)
