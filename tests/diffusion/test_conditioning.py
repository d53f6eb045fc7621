"""Inpainting: known entries overwrite a trajectory exactly; the current-state helper."""

from __future__ import annotations

import pytest
import torch

from rr_gym.diffusion import Inpainting
from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout


def test_apply_overwrites_only_masked_entries() -> None:
    x = torch.randn(3, 4, 2)
    mask = torch.zeros(3, 4, 2, dtype=torch.bool)
    mask[:, 0, 1] = True
    mask[1, 3, :] = True
    values = torch.full((3, 4, 2), 7.0)
    out = Inpainting(mask, values).apply(x)
    assert torch.equal(out[mask], values[mask])
    assert torch.equal(out[~mask], x[~mask])


def test_apply_broadcasts_and_casts_values() -> None:
    x = torch.zeros(5, 4, 3, dtype=torch.float64)
    mask = torch.zeros(1, 4, 3, dtype=torch.bool)
    mask[0, -1, 0] = True
    out = Inpainting(mask, torch.full((1, 4, 3), 0.5, dtype=torch.float32)).apply(x)
    assert out.dtype == torch.float64
    assert torch.equal(out[:, -1, 0], torch.full((5,), 0.5, dtype=torch.float64))
    assert out.sum() == 2.5


def test_current_state_fixes_the_observation_at_step_zero() -> None:
    layout = TransitionLayout.from_sizes(action=1, observation=2)
    state = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    cond = Inpainting.current_state(state, layout, horizon=3)
    assert cond.mask.shape == (2, 3, 3)
    assert cond.mask.sum() == 4
    assert cond.mask[:, 0, 1:].all() and not cond.mask[:, 0, 0].any()
    out = cond.apply(torch.zeros(2, 3, 3))
    assert torch.equal(out[:, 0, 1:], state)
    assert out[:, 1:].abs().sum() == 0 and out[:, 0, 0].abs().sum() == 0


def test_current_state_other_field_and_unknown_field() -> None:
    layout = TransitionLayout.from_sizes(observation=2, action=1)
    cond = Inpainting.current_state(torch.ones(1, 1), layout, horizon=2, field="action")
    assert cond.mask[0, 0].tolist() == [False, False, True]
    with pytest.raises(ConfigError, match="'goal'"):
        Inpainting.current_state(torch.ones(1, 2), layout, horizon=2, field="goal")
