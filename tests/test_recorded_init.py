"""RecordedInit: a model's checkpoint is its constructor arguments plus its weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import rr_gym
from rr_gym.errors import CheckpointError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.recorded_init import RecordedInit
from rr_gym.rewards import RelativeRewardModel


class _Scaled(RecordedInit, torch.nn.Module):
    def __init__(
        self,
        layout: TransitionLayout,
        normalizer: Normalizer | None = None,
        *,
        low: np.ndarray | None = None,
        sizes: tuple[int, ...] = (2, 3),
        metadata: dict | None = None,
    ) -> None:
        super().__init__()
        self.layout, self.normalizer, self.low = layout, normalizer, low
        self.metadata = dict(metadata or {})
        self.weight = torch.nn.Parameter(torch.ones(layout.dim))


class _Child(_Scaled):  # no __init__ of its own: the parent's arguments are recorded
    pass


def test_arguments_round_trip_through_json_types(tmp_path: Path) -> None:
    layout = TransitionLayout.from_sizes(observation=2, action=1)
    norm = Normalizer.fit(np.arange(30, dtype=np.float32).reshape(10, 3))
    model = _Child(layout, norm, low=np.array([-1.0, 0.5]), metadata={"a": 1})
    model.metadata["b"] = 2  # saved as it is now, not as given
    with torch.no_grad():
        model.weight.mul_(3)
    model.save(tmp_path / "m")
    again = rr_gym.load(tmp_path / "m")
    assert type(again) is _Child and again.layout == layout
    assert again.normalizer.to_dict() == norm.to_dict()
    assert isinstance(again.low, np.ndarray) and again.low.tolist() == [-1.0, 0.5]
    assert again.metadata == {"a": 1, "b": 2}
    torch.testing.assert_close(again.weight, model.weight)
    _, config = again.checkpoint_state()
    assert config["sizes"] == [2, 3] and config["training"] == {}


def test_a_subclass_calling_super_records_its_own_arguments() -> None:
    reward = RelativeRewardModel(TransitionLayout.flat(2), hidden_dim=8, depth=1)
    _, config = reward.checkpoint_state()
    assert config["hidden_dim"] == 8 and config["depth"] == 1  # not the base class's
    assert {"layout", "normalizer", "window", "schedule", "training"} <= set(config)


def test_checkpoints_the_class_cannot_take_are_refused() -> None:
    reward = RelativeRewardModel(TransitionLayout.flat(2), hidden_dim=8, depth=1)
    tensors, config = reward.checkpoint_state()
    with pytest.raises(CheckpointError, match="argument 'width', which RelativeRewardModel"):
        RelativeRewardModel.from_checkpoint_state(tensors, {**config, "width": 3})
    with pytest.raises(CheckpointError, match="cannot rebuild RelativeRewardModel"):
        RelativeRewardModel.from_checkpoint_state(tensors, {**config, "window": 0})
    with pytest.raises(CheckpointError, match="weights do not fit RelativeRewardModel"):
        RelativeRewardModel.from_checkpoint_state(tensors, {**config, "hidden_dim": 16})
