"""RelativeReward on tiny envs and on PointMaze / Hopper."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.registration import EnvSpec
from gymnasium.utils.env_checker import check_env
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv

import rr_gym.envs  # (registers rr_gym/ ids)
from rr_gym.errors import ConfigError, DataError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.rewards import PointMazeTrueReward
from rr_gym.wrappers import RelativeReward, native
from tests._factories import mlp_diffusion, relative_reward
from tests.wrappers._helpers import (
    LINE_LAYOUT,
    ConstantPlusAction,
    LineEnv,
    line_model,
    reference_rewards,
    run_episode,
)

ACTIONS = np.random.default_rng(0).uniform(-1, 1, size=(12, 1)).astype(np.float32)


def test_replace_mode_gives_the_model_reward_and_keeps_the_env_reward() -> None:
    model = line_model()
    ep = run_episode(RelativeReward(LineEnv(length=8), model), ACTIONS, seed=1)
    raw = run_episode(LineEnv(length=8), ACTIONS, seed=1)
    want = reference_rewards(model, ep["obs"], ep["actions"], raw["rewards"])
    np.testing.assert_allclose(ep["rewards"], want, rtol=1e-5, atol=1e-6)
    assert [i["env_reward"] for i in ep["infos"]] == raw["rewards"]
    np.testing.assert_allclose([i["model_reward"] for i in ep["infos"]], want, rtol=1e-5, atol=1e-6)


def test_add_mode_and_scale() -> None:
    model = line_model()
    ep = run_episode(RelativeReward(LineEnv(), model, mode="add", scale=-2.5), ACTIONS, seed=2)
    env_r = np.array([i["env_reward"] for i in ep["infos"]])
    want = env_r - 2.5 * reference_rewards(model, ep["obs"], ep["actions"], list(env_r))
    np.testing.assert_allclose(ep["rewards"], want, rtol=1e-5, atol=1e-6)


def test_window_history_is_padded_and_restarts_on_reset() -> None:
    model = line_model(window=3)
    env = RelativeReward(LineEnv(length=5), model)
    for seed in (3, 4):  # two episodes through the same wrapper
        ep = run_episode(env, ACTIONS, seed=seed)
        assert len(ep["rewards"]) == 5
        want = reference_rewards(model, ep["obs"], ep["actions"], [0.0] * 5)
        np.testing.assert_allclose(ep["rewards"], want, rtol=1e-5, atol=1e-6)


def test_dict_observations_read_through_the_layout() -> None:
    layout = TransitionLayout.from_sizes(
        observation=3, action=1, goal=2, next_observation=3, observation_key="observation"
    )
    model = line_model(layout=layout)
    ep = run_episode(RelativeReward(LineEnv(dict_obs=True), model), ACTIONS, seed=5)
    want = reference_rewards(model, ep["obs"], ep["actions"], [0.0] * len(ep["actions"]))
    np.testing.assert_allclose(ep["rewards"], want, rtol=1e-5, atol=1e-6)


def test_running_normalisation_divides_by_the_running_std() -> None:
    model = line_model()
    env = RelativeReward(LineEnv(length=10), model, normalize=True)
    ep = run_episode(env, ACTIONS, seed=6)
    m = np.array([i["model_reward"] for i in ep["infos"]], dtype=np.float64)
    want = [np.clip(m[t] / np.sqrt(m[: t + 1].var() + 1e-8), -10, 10) for t in range(len(m))]
    np.testing.assert_allclose(ep["rewards"], want, rtol=1e-5)
    assert env.reward_norm is not None and env.reward_norm.count == 10


def test_any_reward_model_works() -> None:
    env = RelativeReward(LineEnv(), ConstantPlusAction(_line()))
    ep = run_episode(env, ACTIONS, seed=0)
    np.testing.assert_allclose(ep["rewards"], 1.0 + ACTIONS[: len(ep["rewards"]), 0], rtol=1e-6)


@pytest.mark.parametrize("kind", ["discriminator", "noised", "airl", "true"])
def test_irl_baselines_and_the_true_reward_work(kind: str) -> None:
    from rr_gym.baselines import AIRLReward, DiscriminatorReward, NoisedDiscriminatorReward
    from rr_gym.diffusion import NoiseSchedule

    layout = LINE_LAYOUT
    model = {
        "discriminator": lambda: DiscriminatorReward(layout, hidden_sizes=(8,)),
        "noised": lambda: NoisedDiscriminatorReward(
            layout, hidden_dim=8, depth=1, time_dim=4, schedule=NoiseSchedule(10).to_dict()
        ),
        "airl": lambda: AIRLReward(layout, reward_hidden_sizes=(8,), potential_hidden_sizes=(8,)),
        "true": lambda: PointMazeTrueReward(
            TransitionLayout.from_sizes(observation=3, action=1, next_observation=3),
            goal=(0.5, 0.0),
            reward_type="dense",
        ),
    }[kind]()
    env = RelativeReward(LineEnv(length=6), model)
    ep = run_episode(env, ACTIONS, seed=3)
    want = reference_rewards(model, ep["obs"], ep["actions"], [0.0] * len(ep["actions"]))
    np.testing.assert_allclose(ep["rewards"], want, rtol=1e-5, atol=1e-6)
    folded = "native" if native.available() else "numpy"
    assert env.engine.scorer.backend == (folded if kind == "noised" else "torch")


def _line() -> TransitionLayout:
    return TransitionLayout.from_sizes(observation=3, action=1)


def test_checkpoint_paths_load_and_other_checkpoints_are_refused(tmp_path: Path) -> None:
    # A checkpoint path (Path or str) scores like the model, and the spec records it as a
    # str, so the spec is JSON-friendly and gym.make(spec) rebuilds the same wrapped env.
    model = line_model()
    model.save(tmp_path / "reward")
    path = str(tmp_path / "reward")
    for given in (tmp_path / "reward", path):
        inner = LineEnv()
        inner.spec = EnvSpec(
            "LineTest-v0",
            entry_point="tests.wrappers._helpers:LineEnv",
            disable_env_checker=True,
            order_enforce=False,
        )
        env = RelativeReward(inner, given)
        ep = run_episode(env, ACTIONS, seed=1)
        want = reference_rewards(model, ep["obs"], ep["actions"], [0.0] * len(ep["actions"]))
        np.testing.assert_allclose(ep["rewards"], want, rtol=1e-5, atol=1e-6)
        assert env.spec is not None
        (recorded,) = env.spec.additional_wrappers
        assert recorded.name == "RelativeReward"
        assert recorded.kwargs["reward_model"] == path
        assert type(recorded.kwargs["reward_model"]) is str
        again = gym.make(EnvSpec.from_json(env.spec.to_json()))
        assert isinstance(again, RelativeReward) and again.spec == env.spec
        np.testing.assert_allclose(run_episode(again, ACTIONS, seed=1)["rewards"], want, rtol=1e-6)
    mlp_diffusion(1, 7).save(tmp_path / "diffusion")
    with pytest.raises(ConfigError, match="GaussianDiffusion, not a reward model"):
        RelativeReward(LineEnv(), tmp_path / "diffusion")
    with pytest.raises(ConfigError, match="needs reward_model"):
        RelativeReward(LineEnv())
    with pytest.raises(ConfigError, match="expected a RewardModel"):
        RelativeReward(LineEnv(), 3.0)  # type: ignore[arg-type]


def test_bad_layouts_and_options_are_refused_at_construction() -> None:
    wrong = relative_reward(TransitionLayout.from_sizes(observation=11, action=3))
    with pytest.raises(IncompatibleModelsError, match=r"shape \(11,\).*shape \(3,\)"):
        RelativeReward(LineEnv(), wrong)
    recorded = line_model(
        metadata={"observation_space": '{"type": "Box", "dtype": "float32", "shape": [5]}'}
    )
    with pytest.raises(IncompatibleModelsError, match=r"\{'': \(5,\)\}.*\{'': \(3,\)\}"):
        RelativeReward(LineEnv(), recorded)
    for bad in ({"mode": "multiply"}, {"nan_policy": "ignore"}, {"scale": float("nan")}):
        with pytest.raises(ConfigError):
            RelativeReward(LineEnv(), line_model(), **bad)  # type: ignore[arg-type]


def test_nan_observations_raise_by_default_or_score_zero() -> None:
    env = RelativeReward(LineEnv(nan_at=2), line_model())
    env.reset(seed=0)
    env.step(ACTIONS[0])
    with pytest.raises(DataError, match=r"'next_observation'.*nan.*nan_policy='zero'"):
        env.step(ACTIONS[1])
    env = RelativeReward(LineEnv(nan_at=2, length=6), line_model(), nan_policy="zero")
    ep = run_episode(env, ACTIONS, seed=0)
    rewards = np.array(ep["rewards"])
    assert np.all(np.isfinite(rewards))
    assert rewards[1] == 0.0 and rewards[2] == 0.0 and np.all(rewards[[0, 3, 4]] != 0.0)
    assert env.engine.nonfinite_count == 2


def test_nan_env_rewards_in_add_mode_are_refused() -> None:
    class NanReward(gym.RewardWrapper):  # type: ignore[type-arg]
        def reward(self, reward: float) -> float:
            return float("nan")

    env = RelativeReward(NanReward(LineEnv()), line_model(), mode="add")
    env.reset(seed=0)
    with pytest.raises(DataError, match="non-finite reward nan"):
        env.step(ACTIONS[0])


def _line_env(model: object, nan_at: int | None) -> RelativeReward:
    return RelativeReward(LineEnv(nan_at=nan_at), model)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore::UserWarning")  # Gymnasium logs the worker's error
def test_async_workers_name_their_own_env_in_errors() -> None:
    model = line_model()
    fns = [functools.partial(_line_env, model, 2 if i == 1 else None) for i in range(3)]
    envs = AsyncVectorEnv(fns)
    try:
        assert envs.get_attr("env_index") == (0, 1, 2)
        envs.reset(seed=0)
        actions = np.stack([ACTIONS[0]] * 3)
        envs.step(actions)
        with pytest.raises(DataError, match=r"^env 1's transition .*'next_observation'"):
            envs.step(actions)  # only sub-env 1 returns a NaN observation
    finally:
        envs.close(terminate=True)


def test_make_vec_async_workers_know_their_index() -> None:
    new = rr_gym.envs.register_wrapped("Pendulum-v1")
    envs = gym.make_vec(
        new,
        num_envs=3,
        vectorization_mode="async",
        wrappers=[RelativeReward],
        reward_model=line_model(),
    )
    try:
        assert envs.get_attr("env_index") == (0, 1, 2)
    finally:
        envs.close()


def test_env_index_can_be_set_in_a_sync_vector_env() -> None:
    model = line_model()
    fns = [functools.partial(_line_env, model, 2 if i == 2 else None) for i in range(3)]
    envs = SyncVectorEnv(fns)
    assert envs.get_attr("env_index") == (0, 0, 0)  # one process: no index to find
    envs.set_attr("env_index", [0, 1, 2])
    envs.reset(seed=0)
    actions = np.stack([ACTIONS[0]] * 3)
    envs.step(actions)
    with pytest.raises(DataError, match=r"^env 2's transition"):
        envs.step(actions)
    alone = RelativeReward(LineEnv(nan_at=2), model)
    assert alone.env_index == 0


def test_step_before_reset_is_refused() -> None:
    with pytest.raises(gym.error.ResetNeeded):
        RelativeReward(LineEnv(), line_model()).step(ACTIONS[0])


def _drive_to_goal(env: gym.Env, steps: int = 60) -> tuple[list[float], list[float]]:
    """A PD controller towards ``desired_goal`` from a neighbouring cell."""
    obs, _ = env.reset(
        seed=0, options={"goal_cell": np.array([1, 2]), "reset_cell": np.array([1, 1])}
    )
    rewards, env_rewards = [], []
    for _ in range(steps):
        pos, vel = obs["observation"][:2], obs["observation"][2:]
        action = np.clip(3.0 * (obs["desired_goal"] - pos) - 0.5 * vel, -1, 1).astype(np.float32)
        obs, reward, _, _, info = env.step(action)
        rewards.append(reward)
        env_rewards.append(info["env_reward"])
    return rewards, env_rewards


def test_the_true_reward_reproduces_pointmaze_rewards() -> None:
    sparse = RelativeReward(gym.make("PointMaze_UMaze-v3"), PointMazeTrueReward())
    rewards, env_rewards = _drive_to_goal(sparse)
    assert rewards == env_rewards and sum(env_rewards) > 10
    dense = RelativeReward(
        gym.make("PointMaze_UMazeDense-v3"), PointMazeTrueReward(reward_type="dense")
    )
    rewards, env_rewards = _drive_to_goal(dense)
    np.testing.assert_allclose(rewards, env_rewards, rtol=1e-6)


@pytest.mark.parametrize(
    ("env_id", "layout"),
    [
        ("rr_gym/PointMaze_UMaze-v3", TransitionLayout.from_sizes(observation=4, action=2)),
        ("rr_gym/Hopper-v5", TransitionLayout.from_sizes(observation=11, action=3)),
    ],
)
def test_wrapped_envs_pass_the_gymnasium_checker(env_id: str, layout: TransitionLayout) -> None:
    env = gym.make(env_id, wrappers=[RelativeReward], reward_model=relative_reward(layout))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # infinite Box bounds; "not the unwrapped env"
        check_env(env, skip_render_check=True)  # rendering needs a display
