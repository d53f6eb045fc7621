"""TransitionLayout: field offsets, validation, JSON round trip."""

from __future__ import annotations

import json

import pytest

from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout


def test_from_sizes_offsets_follow_keyword_order() -> None:
    layout = TransitionLayout.from_sizes(observation=4, action=2, next_observation=4)
    assert layout.dim == 10
    assert layout.names == ("observation", "action", "next_observation")
    assert layout.slice("observation") == slice(0, 4)
    assert layout.slice("action") == slice(4, 6)
    assert layout.slice("next_observation") == slice(6, 10)
    assert "action" in layout
    assert "reward" not in layout


def test_flat_layout_is_one_field() -> None:
    layout = TransitionLayout.flat(3)
    assert layout.fields == (("x", 3),)
    assert layout.dim == 3
    assert TransitionLayout.flat(2, name="pos").names == ("pos",)


def test_unknown_field_names_it_and_the_known_fields() -> None:
    layout = TransitionLayout.from_sizes(observation=2, action=1)
    with pytest.raises(ConfigError, match="'reward'") as info:
        layout.slice("reward")
    assert "observation" in str(info.value) and "action" in str(info.value)


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ((), "at least one field"),
        ((("a", 1), ("a", 2)), "unique"),
        ((("a", 0),), "'a' has size 0"),
        ((("a", -2),), "'a' has size -2"),
        ((("a", 1.5),), "'a' has size 1.5"),
    ],
)
def test_invalid_fields_raise_config_error(fields: tuple, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TransitionLayout(fields=fields)


def test_list_fields_are_stored_as_tuples_and_hashable() -> None:
    layout = TransitionLayout(fields=[["obs", 2], ["act", 1]])  # type: ignore[arg-type]
    assert layout.fields == (("obs", 2), ("act", 1))
    assert hash(layout) == hash(TransitionLayout.from_sizes(obs=2, act=1))


def test_json_round_trip_preserves_equality() -> None:
    layout = TransitionLayout.from_sizes(observation=4, action=2, observation_key="observation")
    back = TransitionLayout.from_dict(json.loads(json.dumps(layout.to_dict())))
    assert back == layout
    assert back.observation_key == "observation"
    assert back.slice("action") == slice(4, 6)


def test_equality_depends_on_fields_order_and_observation_key() -> None:
    a = TransitionLayout.from_sizes(observation=2, action=1)
    assert a == TransitionLayout.from_sizes(observation=2, action=1)
    assert a != TransitionLayout.from_sizes(action=1, observation=2)
    assert a != TransitionLayout.from_sizes(observation=2, action=1, observation_key="obs")
    assert a != TransitionLayout.flat(3)


@pytest.mark.parametrize("data", [{}, {"fields": [["a"]]}, {"fields": [["a", "two"]]}, {"x": 1}])
def test_from_dict_rejects_malformed_dicts(data: dict) -> None:
    with pytest.raises(ConfigError, match="not a TransitionLayout dict"):
        TransitionLayout.from_dict(data)


def test_str_lists_fields() -> None:
    layout = TransitionLayout.from_sizes(observation=4, action=2, observation_key="observation")
    assert str(layout) == "TransitionLayout(observation:4, action:2, observation_key='observation')"
    assert str(TransitionLayout.flat(2)) == "TransitionLayout(x:2)"
