"""RewardOptions: one validated options type for the three reward wrappers and the engine."""

from __future__ import annotations

import gymnasium as gym
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from rr_gym.errors import ConfigError
from rr_gym.reward_options import RewardOptions
from rr_gym.wrappers import RelativeReward, VecRelativeReward, VectorRelativeReward
from tests.wrappers._helpers import LineEnv, line_model


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "mul"}, r"mode='mul'; expected one of \['replace', 'add'\]"),
        ({"nan_policy": "skip"}, r"nan_policy='skip'; expected one of \['raise', 'zero'\]"),
        ({"backend": "gpu"}, r"backend='gpu'; expected one of \['auto', 'native'"),
        ({"scale": float("nan")}, "scale=nan; expected a finite number"),
        ({"scale": True}, "scale=True; expected a finite number"),
        ({"norm_clipp": 5.0}, r"unknown reward option 'norm_clipp' \(did you mean 'norm_clip'"),
        ({"colour": 1}, r"unknown reward option 'colour'; expected some of \['mode'"),
    ],
)
def test_bad_options_name_the_value_and_what_is_expected(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RewardOptions.from_kwargs(kwargs)


def test_every_wrapper_takes_the_same_options_and_refuses_unknown_ones() -> None:
    model = line_model()
    wrappers = [
        lambda **o: RelativeReward(LineEnv(), model, **o),
        lambda **o: VectorRelativeReward(gym.vector.SyncVectorEnv([LineEnv] * 2), model, **o),
        lambda **o: VecRelativeReward(DummyVecEnv([LineEnv] * 2), model, **o),
    ]
    for make in wrappers:
        wrapped = make(scale=2.5, normalize=True, norm_clip=None)
        assert wrapped.engine.options == RewardOptions(scale=2.5, normalize=True, norm_clip=None)
        assert wrapped.engine.scale == 2.5 and wrapped.reward_norm is not None
        assert wrapped.reward_norm.clip is None and wrapped.reward_model is model
        with pytest.raises(ConfigError, match="did you mean 'scale'"):
            make(scael=2.5)
    # the single-env wrapper records every option in its spec
    env = RelativeReward(LineEnv(), model, mode="add")
    assert RelativeReward.option_names == RewardOptions.names()
    assert env._saved_kwargs == {
        "reward_model": env._saved_kwargs["reward_model"],
        **RewardOptions(mode="add").as_kwargs(),
    }
