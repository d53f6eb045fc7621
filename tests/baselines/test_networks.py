"""RunningNorm and the MLP builder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rr_gym.baselines.networks import RunningNorm, build_mlp
from rr_gym.errors import ConfigError


def test_running_norm_tracks_the_mean_and_variance_of_all_batches() -> None:
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (5, 17, 40)]
    norm = RunningNorm(4).double()
    for b in batches:
        norm(torch.as_tensor(b))
    data = np.concatenate(batches)
    np.testing.assert_allclose(norm.running_mean.numpy(), data.mean(0), rtol=1e-10)
    np.testing.assert_allclose(norm.running_var.numpy(), data.var(0), rtol=1e-10)
    assert norm.count.item() == len(data)


def test_running_norm_is_frozen_in_eval_mode() -> None:
    norm = RunningNorm(2)
    norm(torch.ones(3, 2) * 5)
    norm.eval()
    before = norm.running_mean.clone()
    out = norm(torch.zeros(4, 2))
    assert torch.equal(norm.running_mean, before)
    assert out.shape == (4, 2)


def test_build_mlp_shapes_and_bad_sizes() -> None:
    assert build_mlp(3, (), 2)(torch.zeros(5, 3)).shape == (5, 2)
    assert isinstance(build_mlp(3, (4,), running_norm=True)[0], RunningNorm)
    with pytest.raises(ConfigError, match="hidden_sizes=\\[0\\]"):
        build_mlp(3, (0,))
    with pytest.raises(ConfigError, match="activation='gelu'"):
        build_mlp(3, (4,), activation="gelu")  # type: ignore[arg-type]
