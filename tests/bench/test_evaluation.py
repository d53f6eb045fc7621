"""Evaluation of a reward on a (tiny, locally generated) maze pair, with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rr_gym.bench.data import PairData, build_dataset_unit, dataset_source
from rr_gym.bench.evaluation import evaluate_reward, maze_grid, transition_reward_fn
from rr_gym.bench.pairs import PairSpec, expand_pairs
from rr_gym.bench.retrain import reward_venv
from rr_gym.rewards.true_reward import PointMazeTrueReward

SIZES = {
    "data_seed": 0,
    "holdout_every": 3,
    "maze": {"goals": [6], "data_steps": 2400, "on_arrival": "stay"},
    "diffusion": {"horizon": 4, "steps": 1, "n_diffusion_steps": 5},
    "evaluate": {"n_transitions": 300, "n_coverage": 16, "grid_resolution": 3, "lr_t_max": 1},
}


@pytest.fixture(scope="module")
def maze_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[PairSpec, PairData]:
    (pair,) = expand_pairs({"umaze": {"kind": "maze"}}, SIZES)
    root = tmp_path_factory.mktemp("data")
    sources = {}
    for role in ("base", "expert"):
        ref = getattr(pair, role)
        build_dataset_unit(ref.unit, root / role, progress=False)
        sources[role] = dataset_source(ref, root / role)
    return pair, PairData(pair, sources, holdout_every=3)


def test_pair_data_splits_by_episode(maze_pair) -> None:
    _, data = maze_pair
    train, test = data.transitions("expert", "train"), data.transitions("expert", "test")
    assert len(train) + len(test) == 2400
    assert set(train.episode_ids) & set(test.episode_ids) == set()
    assert (test.episode_ids % 3 == 0).all()
    np.testing.assert_array_equal(
        train.obs[1:, :2][train.episode_ids[1:] == train.episode_ids[:-1]],
        train.next_obs[:-1, :2][train.episode_ids[1:] == train.episode_ids[:-1]],
    )
    windows = data.windows("base", horizon=4, stride=2, part="test")
    assert windows.windows.shape[1:] == (4, 6)


def test_true_reward_peaks_at_the_goal_and_scores_well(maze_pair, tmp_path: Path) -> None:
    pair, data = maze_pair
    rows = evaluate_reward(pair, "true_reward", 0, PointMazeTrueReward(), data, tmp_path)
    values = {r["metric"]: r["value"] for r in rows}
    assert values["argmax_at_goal"] == 1.0 and values["argmax_near_goal"] == 1.0
    assert values["argmax_at_goal_data"] == 1.0
    assert values["pearson"] > 0.5  # sparse vs the dense reference reward
    assert 0.0 <= values["epic"] < 0.5
    assert 0.5 < values["lr_accuracy"] <= 1.0
    heat = np.load(tmp_path / "heatmap.npz")
    assert heat["image"].shape == (15, 15) and tuple(heat["argmax"]) == (3, 1)
    assert np.isnan(heat["image"][:3]).all()  # the top wall row
    assert (tmp_path / "scatter.npz").is_file()


def test_episode_spearman_ranks_held_out_episodes_by_their_summed_reward(
    maze_pair, tmp_path: Path
) -> None:
    from rr_gym.bench.evaluation import _episode_spearman

    pair, data = maze_pair
    rows = evaluate_reward(pair, "true_reward", 0, None, data, tmp_path)
    assert {r["metric"]: r["value"] for r in rows}["episode_spearman"] == pytest.approx(1.0)
    truth = pair.kind_impl.true_reward(pair)
    flipped = _episode_spearman(lambda o, a, n, t: -truth(o, a, n), truth, data, exact=False)
    assert flipped == pytest.approx(-1.0)


def test_reward_fn_builds_the_models_layout(maze_pair) -> None:
    pair, _ = maze_pair
    xy, cells, geometry = maze_grid(pair, 2)
    assert xy.shape == (5 * 5 * 4, 2) and cells.shape == xy.shape
    assert all(geometry.xy_to_cell(*p) == tuple(c) for p, c in zip(xy, cells, strict=True))
    fn = transition_reward_fn(PointMazeTrueReward(), pair)  # obs, action, next_obs, goal
    goal = np.array([geometry.cell_to_xy((3, 1))], np.float32)
    at_goal = np.concatenate([goal, np.zeros((1, 2), np.float32)], axis=1)
    assert fn(at_goal, np.zeros((1, 2)), at_goal, 0)[0] == 1.0


def test_reward_venv_replaces_the_reward_and_flattens_observations(maze_pair) -> None:
    pair, _ = maze_pair
    venv = reward_venv(pair, PointMazeTrueReward(), {"normalize": False}, n_envs=3, seed=0)
    obs = venv.reset()
    assert obs.shape == (3, 4)
    _, reward, _, infos = venv.step(np.stack([venv.action_space.sample()] * 3))
    assert reward.shape == (3,) and all("env_reward" in info for info in infos)
    np.testing.assert_array_equal(reward, [info["model_reward"] for info in infos])
    assert pair.flat_env().observation_space.shape == (4,)
    venv.close()


def test_reward_venv_flattens_terminal_observations_for_the_agent(maze_pair) -> None:
    """SB3 bootstraps truncated episodes from ``terminal_observation``: it must be flat."""
    pair, _ = maze_pair
    venv = reward_venv(pair, PointMazeTrueReward(), n_envs=2, seed=0)
    venv.reset()
    for _ in range(pair.kind_impl.make_env(pair).spec.max_episode_steps):
        _, _, dones, infos = venv.step(np.zeros((2, 2), np.float32))
        if dones.any():
            break
    assert dones.any()
    assert all(infos[i]["terminal_observation"].shape == (4,) for i in np.flatnonzero(dones))
    venv.close()
