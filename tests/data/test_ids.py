"""Dataset ids, substitute commands and reference scores."""

from __future__ import annotations

import numpy as np
import pytest

from rr_gym.data.ids import locomotion_dataset_id, pointmaze_dataset_id, substitute_command
from rr_gym.data.reference import REFERENCE_SCORES, normalized_score, reference_score
from rr_gym.errors import ConfigError


def test_ids() -> None:
    assert pointmaze_dataset_id("umaze") == "rr_gym/pointmaze-umaze-base-v0"
    assert pointmaze_dataset_id("large", 7) == "rr_gym/pointmaze-large-goal7-v0"
    assert locomotion_dataset_id("walker2d", "random") == "rr_gym/walker2d-random-v0"
    with pytest.raises(ConfigError, match="'great'"):
        locomotion_dataset_id("hopper", "great")


def test_substitute_commands_round_trip() -> None:
    assert substitute_command("rr_gym/pointmaze-open-base-v0").endswith("--maze open --base")
    assert substitute_command("mujoco/halfcheetah/expert-v0").endswith(
        "--env halfcheetah --levels expert"
    )


def test_reference_scores() -> None:
    assert REFERENCE_SCORES["halfcheetah"] == (-280.18, 12135.0)
    assert REFERENCE_SCORES["walker2d"] == (1.63, 4592.3)
    assert REFERENCE_SCORES["medium"] == (13.13, 277.39)
    assert REFERENCE_SCORES["large"] == (6.7, 273.99)
    assert normalized_score("umaze", 23.85) == 0.0
    np.testing.assert_allclose(normalized_score("hopper", np.array([-20.27, 3234.3])), [0, 100])
    with pytest.raises(ConfigError, match=r"'open'.*hopper"):
        reference_score("open")
