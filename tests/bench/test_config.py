"""The shipped Hydra configs compose, suites select what they promise, overrides work."""

from __future__ import annotations

import pytest

from rr_gym.bench.methods import METHODS
from rr_gym.bench.pairs import expand_pairs
from rr_gym.bench.runner import STAGES
from rr_gym.errors import ConfigError


def test_default_suite(make_config) -> None:
    cfg = make_config()
    assert cfg["suite"]["name"] == "default"
    assert list(cfg["pair"]) == ["umaze", "hopper"]
    assert set(cfg["method"]) == {
        "relative_reward",
        "discriminator",
        "noised_discriminator",
        "gail",
        "airl",
        "bc",
        "true_reward",
    }
    assert all(m["kind"] in METHODS for m in cfg["method"].values())
    assert cfg["agent"]["algo"] == "ppo" and cfg["stages"] == list(STAGES)
    pairs = expand_pairs(cfg["pair"], cfg["sizes"])
    assert [p.name for p in pairs] == [
        "umaze-goal0",
        "umaze-goal6",
        "hopper-medium-replay-expert",  # the paper's base data
    ]
    maze, hopper = pairs[1], pairs[2]
    assert maze.base == pairs[0].base  # one base dataset for every goal
    assert maze.options["goal_cell"] == [3, 1]
    assert hopper.base.unit == hopper.expert.unit  # one PPO run gives both levels
    assert hopper.sizes["diffusion"]["denoiser"] == "mlp"
    # Hopper is steered as in the official runs; mazes by classifier guidance
    assert hopper.sizes["steering"]["scales"] == [0.2]  # official; 0.5 in the paper suite
    assert hopper.sizes["steering"]["t_stopgrad"] == 10
    assert hopper.sizes["steering"]["scale_by_variance"] is False
    assert maze.sizes["steering"]["t_stopgrad"] == 0
    assert maze.sizes["steering"].get("scale_by_variance", True) is True
    assert hopper.sizes["steering"]["clip_denoised"] is None  # Diffuser does not clip
    assert cfg["sizes"]["steering"]["pairs"] == "all"


def test_smoke_suite_and_overrides(make_config) -> None:
    cfg = make_config(
        "suite=smoke",
        "method=[relative_reward,gail]",
        "seeds=[0,1]",
        "sizes.retrain.timesteps=999",
        "agent=sac",
    )
    assert cfg["suite"]["name"] == "smoke"
    assert list(cfg["method"]) == ["relative_reward", "gail"]
    assert cfg["seeds"] == [0, 1] and cfg["agent"]["algo"] == "sac"
    pairs = expand_pairs(cfg["pair"], cfg["sizes"])
    assert [p.name for p in pairs] == ["umaze-goal6", "hopper-medium-expert", "digits-harmful3"]
    assert pairs[0].sizes["retrain"]["timesteps"] == 999
    assert pairs[1].sizes["retrain"]["timesteps"] == 512  # locomotion.overrides wins


def test_paper_suite(make_config) -> None:
    cfg = make_config("suite=paper", "sizes.locomotion.source=minari")
    assert cfg["seeds"] == [0, 1, 2, 3, 4]
    pairs = expand_pairs(cfg["pair"], cfg["sizes"])
    assert len([p for p in pairs if p.kind == "maze"]) == 7 + 8 + 8 + 8  # umaze has 7 cells
    loco = [p for p in pairs if p.kind == "locomotion"]
    assert [p.task for p in loco] == ["hopper", "halfcheetah", "walker2d"]
    assert loco[0].base.dataset_id == "mujoco/hopper/medium-replay-v0"
    # the official guidance of each task; Diffuser's HalfCheetah horizon
    assert loco[0].sizes["steering"]["scales"] == [0.2, 0.5]
    assert loco[1].sizes["steering"]["t_stopgrad"] == loco[2].sizes["steering"]["t_stopgrad"] == 5
    assert loco[1].sizes["diffusion"]["horizon"] == 4
    assert (
        pairs[0].sizes["diffusion"]["horizon"] == 256
        and loco[0].sizes["diffusion"]["horizon"] == 32
    )


def test_bad_pair_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="kind"):
        expand_pairs({"x": {"kind": "nope"}}, {})
    with pytest.raises(ConfigError, match="does not exist"):
        expand_pairs({"umaze": {"kind": "maze", "goals": [9]}}, {})


def test_stage_pair_filters(make_config, caplog) -> None:
    cfg = make_config(
        "sizes.retrain.pairs=[umaze-goal6,hopper-*]",
        "+sizes.maze.overrides.steering.pairs=[umaze-goal0,umaze-goal9]",
    )
    pairs = {p.name: p for p in expand_pairs(cfg["pair"], cfg["sizes"])}
    assert [n for n, p in pairs.items() if p.runs("retrain")] == [
        "umaze-goal6",
        "hopper-medium-replay-expert",
    ]
    # the maze override restricts maze pairs only; the Hopper pair keeps `all`
    assert [n for n, p in pairs.items() if p.runs("steering")] == [
        "umaze-goal0",
        "hopper-medium-replay-expert",
    ]
    assert "umaze-goal9" in caplog.text and "match no pair" in caplog.text


def test_pair_overrides_by_name_pattern(make_config, caplog) -> None:
    cfg = make_config("+pair.hopper.sizes.diffusion.steps=5")
    cfg["sizes"]["pair_overrides"] = {"umaze-goal6": {"diffusion": {"steps": 7}}, "nomaze-*": {}}
    pairs = {p.name: p for p in expand_pairs(cfg["pair"], cfg["sizes"])}
    assert pairs["umaze-goal6"].sizes["diffusion"]["steps"] == 7
    assert pairs["umaze-goal0"].sizes["diffusion"]["steps"] == cfg["sizes"]["diffusion"]["steps"]
    assert pairs["hopper-medium-replay-expert"].sizes["diffusion"]["steps"] == 5
    assert "pair_overrides" not in pairs["umaze-goal0"].sizes
    assert "nomaze-*" in caplog.text


def test_patterns_of_pair_configs_a_run_left_out_are_no_typos(make_config, caplog) -> None:
    cfg = make_config("suite=claims")
    known = ["umaze", "medium", "hopper", "walker2d", "halfcheetah", "digits"]
    expand_pairs(cfg["pair"], cfg["sizes"])
    assert "walker2d-*" in caplog.text  # without `known`, every pattern must match
    caplog.clear()
    expand_pairs(cfg["pair"], cfg["sizes"], known=known)
    assert "match no pair" not in caplog.text  # but walker2d, halfcheetah were left out
    cfg["sizes"]["pair_overrides"]["walker2d-goal*"] = {}
    cfg["sizes"]["pair_overrides"]["umaze-goal9"] = {}
    expand_pairs({"umaze": cfg["pair"]["umaze"]}, cfg["sizes"], known=known)
    assert "umaze-goal9" in caplog.text and "walker2d-goal*" not in caplog.text


def test_claims_suite_runs_each_stage_on_the_pairs_its_claim_needs(make_config) -> None:
    cfg = make_config("suite=claims")
    assert cfg["seeds"] == [0, 1, 2, 3, 4] and len(cfg["method"]) == 7
    pairs = {p.name: p for p in expand_pairs(cfg["pair"], cfg["sizes"])}
    mazes = [n for n in pairs if "-goal" in n]
    assert len(mazes) == 7 + 8  # every open goal cell of UMaze (7) and Medium (8)
    steered = sorted(n for n, p in pairs.items() if p.runs("steering"))
    assert steered == ["hopper-medium-replay-expert", "umaze-goal0", "umaze-goal6"]
    retrained = sorted(n for n, p in pairs.items() if p.runs("retrain"))
    assert retrained == ["hopper-medium-replay-expert", "umaze-goal0", "umaze-goal6"]
    assert pairs["umaze-goal0"].sizes["retrain"]["learning_bar"] == 80
    assert pairs["hopper-medium-replay-expert"].sizes["retrain"]["learning_bar"] == 50
    # goals that only draw heatmaps train smaller models
    assert (
        pairs["medium-goal3"].sizes["diffusion"]["steps"]
        < pairs["umaze-goal6"].sizes["diffusion"]["steps"]
    )
    assert pairs["umaze-goal1"].sizes["diffusion"] == pairs["medium-goal3"].sizes["diffusion"]
    # every method where agents are retrained; elsewhere the methods the pair's claims need
    every = list(cfg["method"])
    assert (
        pairs["umaze-goal6"].methods(every)
        == pairs["hopper-medium-replay-expert"].methods(every)
        == every
    )
    assert pairs["medium-goal3"].methods(every) == ["relative_reward", "discriminator"]
    # Walker2d and HalfCheetah (D4RL data only: their generated experts are not experts) are
    # steered, with the guides only, when a user adds them
    added = make_config("suite=claims", "pair=[umaze,medium,hopper,walker2d,halfcheetah,digits]")
    added_pairs = {p.name: p for p in expand_pairs(added["pair"], added["sizes"])}
    steered_only = added_pairs["walker2d-medium-replay-expert"]
    assert steered_only.runs("steering") and not steered_only.runs("retrain")
    assert set(steered_only.methods(every)) == set(steered_only.sizes["steering"]["guides"])
    # claim (d): the digits analogue on one harmful class, 2,000 steps per diffusion model
    assert [n for n, p in pairs.items() if p.kind == "images"] == ["digits-harmful3"]
    assert pairs["digits-harmful3"].sizes["digits"] == {"diffusion_steps": 2000}


def test_image_pairs_one_per_harmful_class_and_only_in_the_images_stage(make_config) -> None:
    cfg = make_config("suite=smoke", "pair=[umaze,digits]", "sizes.images.harmful=[1,8]")
    pairs = expand_pairs(cfg["pair"], cfg["sizes"])
    images = [p for p in pairs if p.kind == "images"]
    assert [p.name for p in images] == ["digits-harmful1", "digits-harmful8"]
    assert images[1].options == {"harmful": 8}
    assert images[0].sizes["digits"]["reward_steps"] == 30
    assert not images[0].kind_impl.trajectory and pairs[0].kind_impl.trajectory
    every = make_config("suite=smoke", "pair=[digits]", "sizes.images.harmful=all")
    assert len(expand_pairs(every["pair"], every["sizes"])) == 10
    with pytest.raises(ConfigError, match="harmful=\\[10\\]; expected a list of digit classes"):
        expand_pairs({"digits": {"kind": "images", "harmful": [10]}}, cfg["sizes"])
    with pytest.raises(ConfigError, match="image pair: it has no environment"):
        images[0].kind_impl.make_env(images[0])
