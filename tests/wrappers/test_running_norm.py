"""Running reward statistics: exact, batch-invariant, optional centring and clipping."""

from __future__ import annotations

import numpy as np
import pytest

from rr_gym.errors import ConfigError
from rr_gym.wrappers import RunningRewardNorm


def test_statistics_are_exact_whatever_the_batching() -> None:
    rewards = np.random.default_rng(0).normal(3.0, 2.0, size=101)
    one, batched = RunningRewardNorm(), RunningRewardNorm()
    for r in rewards:
        one.update(np.array([r]))
    for chunk in np.array_split(rewards, 7):
        batched.update(chunk)
    for norm in (one, batched):
        assert norm.count == 101
        assert norm.mean == pytest.approx(rewards.mean(), rel=1e-12)
        assert norm.var == pytest.approx(rewards.var(), rel=1e-10)


def test_normalize_scales_and_optionally_centres_and_clips() -> None:
    norm = RunningRewardNorm(clip=None)
    norm.update(np.array([1.0, 3.0, 5.0, 7.0]))  # mean 4, var 5
    np.testing.assert_allclose(norm.normalize(np.array([4.0])), [4 / np.sqrt(5)], rtol=1e-6)
    centred = RunningRewardNorm(center=True, clip=0.5)
    centred.update(np.array([1.0, 3.0, 5.0, 7.0]))
    np.testing.assert_allclose(centred.normalize(np.array([4.0, 100.0])), [0.0, 0.5], atol=1e-7)


def test_frozen_statistics_and_state_round_trip() -> None:
    norm = RunningRewardNorm()
    norm.update(np.array([1.0, 2.0]))
    norm.frozen = True
    norm.update(np.array([100.0]))
    assert norm.count == 2
    other = RunningRewardNorm()
    other.load_state_dict(norm.state_dict())
    assert (other.count, other.mean, other.var, other.frozen) == (2, 1.5, 0.25, True)
    with pytest.raises(ConfigError):
        other.load_state_dict({"mean": 1.0})


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="epsilon"):
        RunningRewardNorm(epsilon=0.0)
    with pytest.raises(ConfigError, match="clip"):
        RunningRewardNorm(clip=-1.0)
