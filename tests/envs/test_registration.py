"""rr_gym/ env ids: gym.make / make_vec with wrappers=[...], spec round trips."""

from __future__ import annotations

import functools
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec

import rr_gym.envs
from rr_gym.errors import ConfigError
from rr_gym.layout import TransitionLayout
from rr_gym.rewards import RelativeRewardModel
from rr_gym.wrappers import RelativeReward
from tests._factories import relative_reward

MAZE = "rr_gym/PointMaze_UMaze-v3"
MAZE_LAYOUT = TransitionLayout.from_sizes(
    observation=4, action=2, next_observation=4, observation_key="observation"
)
ACTIONS = np.random.default_rng(0).uniform(-1, 1, size=(6, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("registration") / "reward"
    relative_reward(MAZE_LAYOUT, seed=3).save(path)
    return str(path)


def _rewards(env: gym.Env, seed: int = 0) -> list[float]:
    env.reset(seed=seed)
    return [float(env.step(a)[1]) for a in ACTIONS]


def _expected(ckpt: str, **options: object) -> list[float]:
    return _rewards(RelativeReward(gym.make("PointMaze_UMaze-v3"), ckpt, **options))


def test_default_ids_are_registered() -> None:
    for base in (
        "PointMaze_UMaze-v3",
        "PointMaze_Large-v3",
        "Hopper-v5",
        "HalfCheetah-v5",
        "Walker2d-v5",
    ):
        spec = gym.spec(f"rr_gym/{base}")
        assert spec.kwargs["base_id"] == base
        assert spec.max_episode_steps == gym.spec(base).max_episode_steps


def test_three_forms_of_wrappers_give_the_same_env(ckpt: str) -> None:
    want = _expected(ckpt, scale=2.0)
    forms = [
        gym.make(MAZE, wrappers=[RelativeReward], reward_model=ckpt, scale=2.0),
        gym.make(MAZE, wrappers=[functools.partial(RelativeReward, reward_model=ckpt, scale=2.0)]),
        gym.make(MAZE, wrappers=[lambda env: RelativeReward(env, ckpt, scale=2.0)]),
        gym.make(MAZE, wrappers=[RelativeReward.wrapper_spec(reward_model=ckpt, scale=2.0)]),
        gym.make(MAZE, wrappers=["rr_gym.wrappers:RelativeReward"], reward_model=ckpt, scale=2.0),
    ]
    for env in forms:
        assert str(env).startswith("<TimeLimit<OrderEnforcing<PassiveEnvChecker<RelativeReward")
        np.testing.assert_allclose(_rewards(env), want, rtol=1e-6)


def test_other_keyword_arguments_reach_the_env(ckpt: str) -> None:
    env = gym.make(
        MAZE, wrappers=[RelativeReward], reward_model=ckpt, reward_type="dense", max_episode_steps=4
    )
    assert env.unwrapped.reward_type == "dense"
    env.reset(seed=0)
    steps = [env.step(a) for a in ACTIONS[:4]]
    assert steps[-1][3] and not steps[-2][3]  # truncated by the time limit
    assert 0 < steps[0][4]["env_reward"] < 1  # dense env reward, kept in info


def test_spec_round_trips(ckpt: str) -> None:
    env = gym.make(MAZE, wrappers=[RelativeReward], reward_model=ckpt, mode="add")
    again = gym.make(env.spec)
    assert str(again) == str(env) and again.spec == env.spec
    np.testing.assert_allclose(_rewards(again), _rewards(env), rtol=1e-6)
    # JSON: give the wrappers as WrapperSpecs (or import strings) and the model as a path.
    env = gym.make(MAZE, wrappers=[RelativeReward.wrapper_spec(reward_model=ckpt, mode="add")])
    text = env.spec.to_json()
    assert ckpt in text
    again = gym.make(EnvSpec.from_json(text))
    np.testing.assert_allclose(_rewards(again), _rewards(env), rtol=1e-6)


def test_spec_of_an_in_memory_model_rebuilds_in_process() -> None:
    model = relative_reward(TransitionLayout.from_sizes(observation=11, action=3), seed=4)
    env = gym.make("rr_gym/Hopper-v5", wrappers=[RelativeReward], reward_model=model)
    again = gym.make(env.spec)
    env.reset(seed=1)
    again.reset(seed=1)
    action = np.full(3, 0.3, dtype=np.float32)
    assert env.step(action)[1] == pytest.approx(again.step(action)[1], rel=1e-6)
    with pytest.raises(TypeError, match="not JSON serializable"):
        env.spec.to_json()
    manual = RelativeReward(gym.make("Hopper-v5"), model)
    assert str(gym.make(manual.spec)) == str(manual)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_with_the_same_arguments(ckpt: str, mode: str) -> None:
    want = _expected(ckpt, scale=2.0)
    for wrappers, kwargs in (
        ([RelativeReward], {"reward_model": ckpt, "scale": 2.0}),
        ([functools.partial(RelativeReward, reward_model=ckpt, scale=2.0)], {}),
    ):
        envs = gym.make_vec(MAZE, num_envs=2, vectorization_mode=mode, wrappers=wrappers, **kwargs)
        try:
            envs.reset(seed=0)
            got = [envs.step(np.stack([a, a]))[1][0] for a in ACTIONS]
        finally:
            envs.close()
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_conflicting_options_are_refused(ckpt: str) -> None:
    with pytest.raises(ConfigError, match=r"scale=3\.0.*scale=2\.0"):
        gym.make_vec(
            MAZE,
            num_envs=1,
            wrappers=[functools.partial(RelativeReward, scale=3.0)],
            reward_model=ckpt,
            scale=2.0,
        )


def test_any_registered_id_can_be_wrapped() -> None:
    new = rr_gym.envs.register_wrapped("Pendulum-v1")
    assert new == "rr_gym/Pendulum-v1" and rr_gym.envs.register_wrapped("Pendulum-v1") == new
    model = RelativeRewardModel(TransitionLayout.from_sizes(observation=3, action=1), hidden_dim=8)
    env = gym.make(new, wrappers=[RelativeReward], reward_model=model)
    env.reset(seed=0)
    assert env.spec.max_episode_steps == 200
    assert np.isfinite(env.step(np.zeros(1, np.float32))[1])
    with pytest.raises(ConfigError, match="not registered"):
        rr_gym.envs.register_wrapped("NoSuchEnv-v0")
    with pytest.raises(ConfigError, match="already registered"):
        rr_gym.envs.register_wrapped("CartPole-v1", env_id=new)


def test_bad_wrapper_items_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not callable"):
        gym.make(MAZE, wrappers=[3])
    with pytest.raises(ConfigError, match="cannot import wrapper"):
        gym.make(MAZE, wrappers=["rr_gym.wrappers:NoSuchWrapper"])
    with pytest.raises(ConfigError, match="returned int"):
        gym.make(MAZE, wrappers=[lambda env: 3])


@pytest.mark.parametrize(
    ("env_id", "typo", "closest"),
    [
        (MAZE, "reward_modle", "reward_model"),  # PointMazeEnv(**kwargs)
        ("rr_gym/Hopper-v5", "reward_modle", "reward_model"),  # HopperEnv(**kwargs)
        ("rr_gym/Hopper-v5", "nan_polcy", "nan_policy"),
        ("rr_gym/Hopper-v5", "wrapper", "wrappers"),
        ("rr_gym/Pendulum-v1", "normalise", "normalize"),  # PendulumEnv: no **kwargs
    ],
)
def test_misspelt_rr_gym_keyword_is_a_config_error(
    ckpt: str, env_id: str, typo: str, closest: str
) -> None:
    rr_gym.envs.register_wrapped("Pendulum-v1")
    with pytest.raises(ConfigError) as err:
        gym.make(env_id, wrappers=[RelativeReward], reward_model=ckpt, **{typo: 1})
    msg = str(err.value)
    assert f"unknown keyword {typo!r}" in msg and f"did you mean {closest!r}" in msg
    assert "'reward_model'" in msg and "'nan_policy'" in msg and "'wrappers'" in msg


def test_misspelt_keyword_is_refused_by_make_vec_too(ckpt: str) -> None:
    with pytest.raises(ConfigError, match=r"unknown keyword 'reward_modle'.*'reward_model'"):
        gym.make_vec(MAZE, num_envs=1, wrappers=[RelativeReward], reward_modle=ckpt)


def test_unknown_keyword_of_an_env_without_kwargs_is_refused() -> None:
    new = rr_gym.envs.register_wrapped("Pendulum-v1")
    with pytest.raises(ConfigError) as err:
        gym.make(new, gg=9.0)
    msg = str(err.value)
    assert "unknown keyword 'gg'" in msg and "did you mean 'g'" in msg
    assert "['g', 'render_mode']" in msg  # the env's own keywords
    assert gym.make(new, g=9.0).unwrapped.g == 9.0


def test_keywords_of_the_underlying_env_still_pass_through() -> None:
    model = relative_reward(TransitionLayout.from_sizes(observation=11, action=3), seed=4)
    env = gym.make(
        "rr_gym/Hopper-v5",
        wrappers=[RelativeReward],
        reward_model=model,
        frame_skip=2,  # MujocoEnv's, through HopperEnv(**kwargs)
        render_mode="rgb_array",
        width=32,
        height=24,
        ctrl_cost_weight=0.5,  # HopperEnv's own
    )
    assert env.unwrapped.frame_skip == 2 and env.unwrapped.width == 32
    assert env.unwrapped._ctrl_cost_weight == 0.5
    env.close()
    maze = gym.make(MAZE, continuing_task=True, reset_target=True, render_mode="rgb_array")
    assert maze.unwrapped.continuing_task and maze.unwrapped.reset_target
    assert maze.unwrapped.render_mode == "rgb_array"
    # A keyword unknown to rr_gym and not like any of its own is left to the env (here
    # MazeEnv(**kwargs) forwards it to MuJoCo, which refuses it in its own words).
    with pytest.raises(TypeError, match="camera_idx"):
        gym.make(MAZE, camera_idx=0)
