"""EMA of module weights: warm-up, convergence, buffers, independence of the shadow copy."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rr_gym.utils.ema import EMA


def _net() -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


@pytest.mark.parametrize("decay", [0.0, 1.0, -0.5, 1.5])
def test_decay_outside_unit_interval_is_refused(decay: float) -> None:
    with pytest.raises(ValueError, match="decay"):
        EMA(_net(), decay)


def test_shadow_is_a_frozen_independent_copy() -> None:
    net = _net()
    ema = EMA(net, 0.9)
    assert not ema.shadow.training
    assert all(not p.requires_grad for p in ema.shadow.parameters())
    before = ema.shadow[0].weight.clone()
    with torch.no_grad():
        net[0].weight.add_(1.0)
    torch.testing.assert_close(ema.shadow[0].weight, before)


def test_first_update_uses_warmup_decay() -> None:
    net = _net()
    ema = EMA(net, 0.999)
    init = net[0].weight.detach().clone()
    with torch.no_grad():
        net[0].weight.fill_(1.0)
    ema.update(net)
    d = 2.0 / 11.0  # min(0.999, (1 + 1) / (10 + 1))
    torch.testing.assert_close(ema.shadow[0].weight, d * init + (1 - d) * torch.ones_like(init))
    assert ema.updates == 1


def test_converges_to_constant_weights_and_copies_buffers() -> None:
    net = _net()
    ema = EMA(net, 0.9)
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(0.25)
        net[1].running_mean.fill_(3.0)
    for _ in range(300):
        ema.update(net)
    for p in ema.shadow.parameters():
        torch.testing.assert_close(p, torch.full_like(p, 0.25), atol=1e-6, rtol=0)
    torch.testing.assert_close(ema.shadow[1].running_mean, torch.full((4,), 3.0))


def test_average_lags_behind_changing_weights() -> None:
    net = _net()
    ema = EMA(net, 0.99)
    for _ in range(1000):  # past the warm-up: (1 + n) / (10 + n) > 0.99
        ema.update(net)
    old = net[0].bias.detach().clone()
    with torch.no_grad():
        net[0].bias.add_(1.0)
    ema.update(net)
    torch.testing.assert_close(ema.shadow[0].bias, old + 0.01, atol=1e-6, rtol=0)
