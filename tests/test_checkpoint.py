"""Checkpoints: exact round trips, the JSON sidecar, and refusal of damaged checkpoints."""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import numpy as np
import pytest
import torch

import rr_gym
from rr_gym.checkpoint import (
    CONFIG_FILE,
    FORMAT_VERSION,
    WEIGHTS_FILE,
    Checkpointable,
    _header_digest,
    load,
    read_checkpoint,
    write_checkpoint,
)
from rr_gym.diffusion import GaussianDiffusion
from rr_gym.errors import CheckpointError, ConfigError, TargetExistsError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import RelativeRewardModel
from tests._factories import mixture, mlp_diffusion, relative_reward, unet_diffusion

NORM = Normalizer(np.array([0.5, -1.0, 2.0]), np.array([1.5, 0.25, 3.0]), "gaussian")
LAYOUT = TransitionLayout.from_sizes(observation=2, action=1, observation_key="observation")


def _models() -> dict[str, GaussianDiffusion]:
    return {
        "unet": unet_diffusion(
            horizon=8, dim=3, normalizer=NORM, layout=LAYOUT, metadata={"dataset": "d-v0"}
        ),
        "mlp": mlp_diffusion(horizon=2, dim=3, predict_epsilon=False, clip_denoised=1.5),
    }


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A saved MLP diffusion model's directory."""
    return mlp_diffusion().save(tmp_path / "model")


def _outputs(model: GaussianDiffusion) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, model.horizon, model.transition_dim, generator=gen)
    with torch.no_grad():
        return model.model(x, torch.tensor([0, 3, 6, 9]))


@pytest.mark.parametrize("name", ["unet", "mlp"])
def test_diffusion_round_trip_is_exact(tmp_path: Path, name: str) -> None:
    model = _models()[name]
    model.training_config = {"steps_done": 7}
    path = model.save(tmp_path / name)
    back = rr_gym.load(path)
    assert type(back) is GaussianDiffusion and type(back.model) is type(model.model)
    assert torch.equal(_outputs(back), _outputs(model))
    for key, value in model.model.state_dict().items():
        assert torch.equal(back.model.state_dict()[key], value)
    assert back.schedule == model.schedule
    assert back.normalizer == model.normalizer and back.layout == model.layout
    assert back.predict_epsilon == model.predict_epsilon
    assert back.clip_denoised == model.clip_denoised
    assert back.metadata == model.metadata and back.training_config == {"steps_done": 7}
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert torch.equal(back.sample(2, generator=gen()).x, model.sample(2, generator=gen()).x)


def test_reward_round_trip_is_exact(tmp_path: Path) -> None:
    reward = relative_reward(
        LAYOUT,
        NORM,
        window=2,
        reduction="mean",
        schedule={"n_steps": 10, "kind": "cosine"},
        metadata={"goal": 3},
    )
    path = reward.save(tmp_path / "reward")
    back = RelativeRewardModel.load(path)
    x = np.random.default_rng(0).normal(size=(6, 4, 3))
    np.testing.assert_array_equal(back.predict(x), reward.predict(x))
    np.testing.assert_array_equal(back.predict(x, t=5), reward.predict(x, t=5))
    assert (back.window, back.reduction) == (2, "mean")
    assert back.layout == LAYOUT and back.normalizer == NORM
    assert back.schedule == {"n_steps": 10, "kind": "cosine"}
    assert back.metadata == {"goal": 3}
    assert back.net.config == reward.net.config


def test_sidecar_holds_schedule_normalizer_layout_and_version(tmp_path: Path) -> None:
    path = _models()["unet"].save(tmp_path / "m")
    assert sorted(p.name for p in path.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    header = json.loads((path / CONFIG_FILE).read_text())
    assert header["format"] == "rr_gym"
    assert header["format_version"] == FORMAT_VERSION
    assert header["rr_gym_version"] == rr_gym.__version__
    assert header["class"] == "GaussianDiffusion"
    config = header["config"]
    assert config["schedule"] == {
        "n_steps": 10,
        "kind": "cosine",
        "beta_start": 1e-4,
        "beta_end": 2e-2,
    }
    assert Normalizer.from_dict(config["normalizer"]) == NORM
    assert TransitionLayout.from_dict(config["layout"]) == LAYOUT
    assert config["denoiser"] == "TemporalUnet"
    assert config["metadata"] == {"dataset": "d-v0"}
    assert len(header["weights_sha256"]) == 64


def test_load_accepts_the_files_inside_the_directory(saved: Path) -> None:
    for target in (saved, saved / CONFIG_FILE, saved / WEIGHTS_FILE, str(saved)):
        assert isinstance(load(target), GaussianDiffusion)


def test_truncated_weights_are_refused(saved: Path) -> None:
    weights = saved / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated or modified"):
        load(saved)


def test_tampered_weights_are_refused(saved: Path) -> None:
    weights = saved / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256") as info:
        load(saved)
    assert WEIGHTS_FILE in str(info.value)


def test_invalid_json_is_refused(saved: Path) -> None:
    config = saved / CONFIG_FILE
    config.write_text(config.read_text()[:50])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(saved)
    config.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load(saved)


@pytest.mark.parametrize("missing", [CONFIG_FILE, WEIGHTS_FILE])
def test_missing_files_are_refused(saved: Path, missing: str) -> None:
    (saved / missing).unlink()
    with pytest.raises(CheckpointError, match="not an rr_gym checkpoint") as info:
        load(saved)
    assert CONFIG_FILE in str(info.value) and WEIGHTS_FILE in str(info.value)


def test_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nowhere"):
        load(tmp_path / "nowhere")


def _edit_header(path: Path, *, reseal: bool = True, **changes: object) -> None:
    """Change header entries; ``reseal`` records the new header's hash (to test what is
    checked after the hash)."""
    header = json.loads((path / CONFIG_FILE).read_text())
    header.update(changes)
    _write_header(path, header, reseal=reseal)


def _write_header(path: Path, header: dict, *, reseal: bool = True) -> None:
    if reseal:
        header["header_sha256"] = _header_digest(header)
    (path / CONFIG_FILE).write_text(json.dumps(header))


def test_future_format_version_is_refused(saved: Path) -> None:
    _edit_header(saved, format_version=FORMAT_VERSION + 1)
    with pytest.raises(CheckpointError, match=f"format_version={FORMAT_VERSION + 1}") as info:
        load(saved)
    assert "upgrade rr_gym" in str(info.value)


@pytest.mark.parametrize("version", [0, "1", None])
def test_invalid_format_version_is_refused(saved: Path, version: object) -> None:
    _edit_header(saved, format_version=version)
    with pytest.raises(CheckpointError, match="format_version"):
        load(saved)


def test_foreign_header_is_refused(saved: Path) -> None:
    _edit_header(saved, format="pickle")
    with pytest.raises(CheckpointError, match="not an rr_gym checkpoint header"):
        load(saved)
    (saved / CONFIG_FILE).write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="not an rr_gym checkpoint header"):
        load(saved)


def test_unknown_class_is_refused_naming_known_classes(saved: Path) -> None:
    _edit_header(saved, **{"class": "FancyModel"})
    with pytest.raises(CheckpointError, match="'FancyModel'") as info:
        load(saved)
    assert "GaussianDiffusion" in str(info.value) and "RelativeRewardModel" in str(info.value)


def test_incomplete_config_is_refused(saved: Path) -> None:
    header = json.loads((saved / CONFIG_FILE).read_text())
    del header["config"]["schedule"]
    _write_header(saved, header)
    with pytest.raises(CheckpointError, match="config lacks the entry 'schedule'") as info:
        load(saved)
    assert str(saved) in str(info.value)


@pytest.mark.parametrize("key", ["config", "layout"])
def test_a_header_without_config_or_layout_names_the_missing_entry(saved: Path, key: str) -> None:
    header = json.loads((saved / CONFIG_FILE).read_text())
    del (header if key == "config" else header["config"])[key]
    _write_header(saved, header)
    with pytest.raises(CheckpointError, match=f"lacks the entry '{key}'") as info:
        load(saved)
    assert str(saved) in str(info.value) and "GaussianDiffusion" in str(info.value)


def test_an_edited_header_is_refused_even_at_the_same_size(saved: Path) -> None:
    """Renaming a layout field keeps the JSON's size; the header's own hash catches it."""
    text = (saved / CONFIG_FILE).read_text()
    field = '"fields": [\n        [\n          "x",'
    assert field in text
    edited = text.replace(field, field.replace('"x"', '"y"'), 1)
    assert len(edited) == len(text)
    (saved / CONFIG_FILE).write_text(edited)
    with pytest.raises(CheckpointError, match="header_sha256") as info:
        load(saved)
    assert str(saved / CONFIG_FILE) in str(info.value)


def test_a_format_1_checkpoint_without_a_header_hash_still_loads(saved: Path) -> None:
    header = json.loads((saved / CONFIG_FILE).read_text())
    del header["header_sha256"]
    header["format_version"] = 1
    _write_header(saved, header, reseal=False)
    assert torch.equal(_outputs(load(saved)), _outputs(mlp_diffusion()))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_that_are_not_finite_are_refused(tmp_path: Path, bad: float) -> None:
    model = mlp_diffusion()
    with torch.no_grad():
        next(model.model.parameters()).view(-1)[0] = bad
    path = model.save(tmp_path / "model")
    with pytest.raises(CheckpointError, match="1 NaN or infinite value") as info:
        load(path)
    assert str(path) in str(info.value)


def test_weights_of_another_network_size_are_refused(tmp_path: Path) -> None:
    small, large = mlp_diffusion(hidden_dim=16), mlp_diffusion(hidden_dim=32)
    tensors, _ = large.checkpoint_state()
    _, config = small.checkpoint_state()
    write_checkpoint(tmp_path / "m", tensors, {"class": "GaussianDiffusion", "config": config})
    with pytest.raises(CheckpointError, match="weights do not fit MLPDenoiser") as info:
        load(tmp_path / "m")
    assert str(tmp_path / "m") in str(info.value)
    reward_tensors, _ = relative_reward(hidden_dim=32).checkpoint_state()
    _, reward_config = relative_reward(hidden_dim=16).checkpoint_state()
    write_checkpoint(
        tmp_path / "r", reward_tensors, {"class": "RelativeRewardModel", "config": reward_config}
    )
    with pytest.raises(CheckpointError, match="weights do not fit RelativeRewardModel"):
        load(tmp_path / "r")


def test_interrupted_save_leaves_nothing_at_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: Path, *args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", crash)  # the JSON is written second
    with pytest.raises(OSError, match="disk full"):
        mlp_diffusion().save(tmp_path / "model")
    monkeypatch.undo()
    assert not (tmp_path / "model").exists()
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_the_existing_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = mlp_diffusion(seed=0)
    path = old.save(tmp_path / "model")

    def crash(self: Path, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pathlib.Path, "write_bytes", crash)
    with pytest.raises(KeyboardInterrupt):
        mlp_diffusion(seed=1).save(path)
    monkeypatch.undo()
    assert torch.equal(_outputs(load(path)), _outputs(old))
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_overwrite_replaces_the_checkpoint(tmp_path: Path) -> None:
    path = mlp_diffusion(seed=0).save(tmp_path / "model")
    new = mlp_diffusion(seed=1)
    new.save(path)
    assert torch.equal(_outputs(load(path)), _outputs(new))


def test_saving_over_a_folder_that_is_not_a_checkpoint_is_refused(tmp_path: Path) -> None:
    """`reward.save("runs")` instead of "runs/reward" must not delete the runs."""
    runs = tmp_path / "runs"
    (runs / "run1").mkdir(parents=True)
    (runs / "run1" / "results.csv").write_text("precious")
    with pytest.raises(TargetExistsError, match=r"runs: a folder with 1 entry \(run1\)"):
        relative_reward().save(runs)
    assert (runs / "run1" / "results.csv").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["results.csv", "run1", "runs"]


def test_saving_over_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(TargetExistsError, match="a file of 4 bytes") as info:
        mlp_diffusion().save(target)
    assert "notes.txt-model" in str(info.value)  # a free path beside it, not inside it
    assert target.read_text() == "mine"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_saving_into_an_empty_folder_works(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    mlp_diffusion().save(tmp_path / "model")
    assert isinstance(load(tmp_path / "model"), GaussianDiffusion)


def _save_repeatedly(path: str, seed: int, rounds: int) -> None:  # runs in a child process
    model = mlp_diffusion(seed=seed)
    for _ in range(rounds):
        model.save(path)


def test_concurrent_saves_to_one_path_serialise(tmp_path: Path) -> None:
    """Processes saving one path: every save succeeds, one of them wins, nothing is left."""
    import multiprocessing

    path = tmp_path / "model"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_save_repeatedly, args=(str(path), s, 60)) for s in (0, 1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    outputs = _outputs(load(path))
    assert any(torch.equal(outputs, _outputs(mlp_diffusion(seed=s))) for s in (0, 1, 2))


def test_class_load_refuses_another_class(saved: Path, tmp_path: Path) -> None:
    assert isinstance(GaussianDiffusion.load(saved), GaussianDiffusion)
    assert isinstance(Checkpointable.load(saved), GaussianDiffusion)
    with pytest.raises(
        CheckpointError, match="holds a GaussianDiffusion, expected a RelativeRewardModel"
    ):
        RelativeRewardModel.load(saved)
    reward_path = relative_reward().save(tmp_path / "reward")
    with pytest.raises(CheckpointError, match="expected a GaussianDiffusion"):
        GaussianDiffusion.load(reward_path)


def test_trainer_state_is_not_a_loadable_model(tmp_path: Path) -> None:
    write_checkpoint(tmp_path / "state", {"x": torch.zeros(1)}, {"class": "TrainerState"})
    with pytest.raises(CheckpointError, match="'TrainerState'"):
        load(tmp_path / "state")


def test_analytic_model_refuses_to_save(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="analytic"):
        mixture().save(tmp_path / "oracle")
    assert not (tmp_path / "oracle").exists()


@pytest.mark.parametrize("bad", [float("nan"), {1, 2}, object()])
def test_header_that_is_not_json_is_a_checkpoint_error(tmp_path: Path, bad: object) -> None:
    model = mlp_diffusion(metadata={"bad": bad})
    with pytest.raises(CheckpointError, match="not JSON-serialisable"):
        model.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_read_checkpoint_returns_cpu_tensors_and_header(saved: Path) -> None:
    tensors, header = read_checkpoint(saved)
    assert all(v.device.type == "cpu" for v in tensors.values())
    assert set(tensors) == set(mlp_diffusion().model.state_dict())
    assert header["class"] == "GaussianDiffusion"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_load_onto_cuda_and_back(tmp_path: Path) -> None:
    model = _models()["unet"]
    path = model.to("cuda").save(tmp_path / "m")  # saving from CUDA writes CPU tensors
    back = load(path, device="cuda")
    assert back.device.type == "cuda"
    x = torch.randn(3, 8, 3)
    t = torch.tensor([0, 4, 9])
    with torch.no_grad():
        torch.testing.assert_close(
            back.model(x.cuda(), t.cuda()).cpu(), model.to("cpu").model(x, t), rtol=1e-4, atol=1e-4
        )
    reward = relative_reward(LAYOUT, NORM)
    reward_back = load(reward.save(tmp_path / "r"), device="cuda")
    assert reward_back.device.type == "cuda"
    raw = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(reward_back.predict(raw), reward.predict(raw), rtol=1e-4, atol=1e-5)


def test_a_checkpoint_from_before_the_trajectory_defaults_keeps_its_own_options(
    tmp_path: Path,
) -> None:
    """Models saved before conditioning and action weights existed were trained with
    neither: their saved options win over today's defaults."""
    path = unet_diffusion(horizon=8, dim=3, layout=LAYOUT, predict_epsilon=True).save(
        tmp_path / "old"
    )
    header = json.loads((path / CONFIG_FILE).read_text())
    assert header["config"]["condition_field"] == "observation"
    del header["config"]["condition_field"], header["config"]["action_weight"]
    _write_header(path, header)
    model = load(path)
    assert model.predict_epsilon and model.condition_field is None
    assert model.action_weight == 1.0
