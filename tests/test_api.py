"""The quick-start API: ``as_windows``, ``train_diffusion``, ``extract_reward``, ``load``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import rr_gym
from rr_gym.data.windows import WindowDataset, as_windows, windows_from_arrays
from rr_gym.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule, TemporalUnet
from rr_gym.diffusion.analytic import GaussianMixtureDiffusion
from rr_gym.diffusion.training import DiffusionTrainer
from rr_gym.errors import CheckpointError, ConfigError, DataError, IncompatibleModelsError
from rr_gym.layout import TransitionLayout
from rr_gym.normalizer import Normalizer
from rr_gym.rewards import RelativeRewardModel, gradient_matching
from rr_gym.trainer import TrainConfig
from tests._factories import gaussian, mlp_diffusion, relative_reward

POINTS = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
LAYOUT = TransitionLayout.from_sizes(observation=2, action=1, observation_key="observation")
TINY_MLP = {"hidden_dim": 8, "depth": 1, "time_dim": 4}
TINY_UNET = {"dim": 8, "dim_mults": (1, 2)}


def _diffusion(data: Any, **kwargs: Any) -> GaussianDiffusion:
    options: dict[str, Any] = {
        "horizon": 1,
        "steps": 2,
        "batch_size": 8,
        "n_diffusion_steps": 10,
        "network": TINY_MLP,
        "device": "cpu",
        "progress": False,
        **kwargs,
    }
    return rr_gym.train_diffusion(data, **options)


def _reward(
    base: GaussianDiffusion | None = None,
    expert: GaussianDiffusion | None = None,
    data: Any = POINTS,
    **kwargs: Any,
) -> RelativeRewardModel:
    options: dict[str, Any] = {
        "steps": 2,
        "batch_size": 8,
        "hidden_dim": 8,
        "depth": 1,
        "time_dim": 4,
        "device": "cpu",
        "progress": False,
        **kwargs,
    }
    return rr_gym.extract_reward(
        base if base is not None else gaussian([0.0, 0.0], [1.0, 1.0], n_steps=10),
        expert if expert is not None else gaussian([1.0, 0.0], [0.5, 0.5], n_steps=10),
        data,
        **options,
    )


def _episodes_dataset(horizon: int = 4) -> WindowDataset:
    rng = np.random.default_rng(0)
    episodes = [rng.normal(size=(n, 3)).astype(np.float32) for n in (9, 12)]
    return windows_from_arrays(
        episodes,
        [np.ones(len(e)) for e in episodes],
        horizon=horizon,
        layout=LAYOUT,
        metadata={"dataset_id": "toy/ep-v0"},
    )


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ---------------------------------------------------------------------------- as_windows
def test_points_become_one_step_windows() -> None:
    windows, layout, meta = as_windows(POINTS, 1)
    assert windows.shape == (64, 1, 2) and windows.dtype == np.float32
    np.testing.assert_array_equal(windows[:, 0], POINTS)
    assert layout is None and meta == {}


def test_one_trajectory_is_cut_into_every_window() -> None:
    trajectory = np.arange(10, dtype=np.float64).reshape(5, 2)
    windows, _, _ = as_windows(trajectory, 3)
    assert windows.shape == (3, 3, 2) and windows.dtype == np.float32
    for i in range(3):
        np.testing.assert_array_equal(windows[i], trajectory[i : i + 3])
    assert windows.flags.c_contiguous


def test_windows_pass_through() -> None:
    data = np.random.default_rng(0).normal(size=(6, 4, 3))
    windows, _, _ = as_windows(data, 4)
    np.testing.assert_array_equal(windows, data.astype(np.float32))


def test_a_window_dataset_gives_its_windows_layout_and_metadata() -> None:
    dataset = _episodes_dataset()
    windows, layout, meta = as_windows(dataset, 4)
    np.testing.assert_array_equal(windows, dataset.windows)
    assert layout == LAYOUT
    assert meta["dataset_id"] == "toy/ep-v0" and meta["horizon"] == 4


@pytest.mark.parametrize(
    ("data", "horizon", "match"),
    [
        (np.zeros((3, 2)), 4, "horizon=4 is larger than the data: one trajectory of 3 steps"),
        (np.zeros((5, 2, 2)), 3, "windows have horizon 2 but horizon=3 was asked"),
        (np.zeros(5), 1, r"rank 1 \(shape \(5,\)\)"),
        (np.zeros((2, 2, 2, 2)), 2, r"rank 4 \(shape \(2, 2, 2, 2\)\)"),
        (np.zeros((0, 2)), 1, "empty"),
    ],
)
def test_unusable_data_is_a_data_error(data: np.ndarray, horizon: int, match: str) -> None:
    with pytest.raises(DataError, match=match):
        as_windows(data, horizon)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_data_is_a_data_error_naming_where(bad: float) -> None:
    data = POINTS.copy()
    data[5, 1] = bad
    with pytest.raises(DataError, match=r"training data has 1 non-finite.*index \(5, 0, 1\)"):
        as_windows(data, 1)


@pytest.mark.parametrize("horizon", [0, -1, 1.5, True, "2"])
def test_bad_horizon_is_a_config_error(horizon: Any) -> None:
    with pytest.raises(ConfigError, match=f"horizon={horizon!r}"):
        as_windows(POINTS, horizon)


def test_a_numpy_integer_horizon_is_accepted() -> None:
    windows, _, _ = as_windows(POINTS, np.int64(4))
    assert windows.shape == (61, 4, 2)


# ---------------------------------------------------------------------------- train_diffusion
def test_train_diffusion_on_points() -> None:
    model = _diffusion(POINTS, metadata={"note": "points"})
    assert type(model.model) is MLPDenoiser and model.model.config["hidden_dim"] == 8
    assert (model.horizon, model.transition_dim, model.n_steps) == (1, 2, 10)
    assert model.layout == TransitionLayout.flat(2)
    np.testing.assert_allclose(model.normalizer.shift, POINTS.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.normalizer.scale, POINTS.std(0), rtol=1e-5)
    assert model.metadata == {"note": "points"}
    assert model.training_config["steps_done"] == 2
    assert not model.training
    assert model.sample(3, generator=torch.Generator().manual_seed(0)).x.shape == (3, 1, 2)


def test_train_diffusion_on_windows_picks_a_unet() -> None:
    data = np.random.default_rng(0).normal(size=(16, 4, 3))
    model = _diffusion(data, horizon=4, network=TINY_UNET, normalizer="minmax")
    assert type(model.model) is TemporalUnet and model.horizon == 4
    assert model.normalizer.kind == "minmax"


def test_train_diffusion_on_one_trajectory() -> None:
    model = _diffusion(POINTS, horizon=2, denoiser="mlp")
    assert type(model.model) is MLPDenoiser and model.horizon == 2


def test_train_diffusion_on_a_window_dataset_keeps_its_layout_and_metadata() -> None:
    model = _diffusion(_episodes_dataset(), horizon=4, network=TINY_UNET, metadata={"k": 1})
    assert model.layout == LAYOUT
    assert model.metadata["dataset_id"] == "toy/ep-v0" and model.metadata["k"] == 1


def test_train_diffusion_uses_a_given_normalizer() -> None:
    norm = Normalizer(np.array([1.0, 2.0]), np.array([3.0, 4.0]), "gaussian")
    assert _diffusion(POINTS, normalizer=norm).normalizer == norm


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"network": {"hidden_dim": 8, "widht": 3}}, r"unknown option\(s\) \['widht'\]"),
        ({"horizon": 2, "network": {"hidden_dim": 8}}, r"\['hidden_dim'\] for TemporalUnet"),
        ({"denoiser": "transformer"}, "denoiser='transformer'"),
        ({"normalizer": "zscore"}, "normalizer kind='zscore'"),
        ({"schedule": "quadratic"}, "quadratic"),
        ({"batch_size": 0}, "batch_size=0"),
        ({"device": "not-a-device"}, "device='not-a-device' is not a device"),
        ({"steps": 0}, "steps=0; expected an int >= 1.*untrained model"),
        ({"steps": 2.5}, r"steps=2.5 \(float\)"),
        ({"lr": float("nan")}, "lr=nan; expected a finite number > 0"),
        ({"lr": float("inf")}, "lr=inf"),
        ({"grad_clip": float("nan")}, "grad_clip=nan"),
        ({"seed": -1}, "seed=-1"),
    ],
)
def test_train_diffusion_bad_options_are_config_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _diffusion(POINTS, **kwargs)


@pytest.mark.parametrize(
    ("data", "horizon", "match"),
    [
        (POINTS[:3], 4, "horizon=4 is larger than the data"),
        (np.zeros((4, 2, 2, 2)), 2, "rank 4"),
        (np.where(np.arange(128).reshape(64, 2) == 7, np.nan, POINTS), 1, "non-finite"),
    ],
)
def test_train_diffusion_bad_data_is_a_data_error(
    data: np.ndarray, horizon: int, match: str
) -> None:
    with pytest.raises(DataError, match=match):
        _diffusion(data, horizon=horizon)


def test_train_diffusion_same_seed_same_weights_other_seed_other_weights() -> None:
    a, b = _diffusion(POINTS, seed=3), _diffusion(POINTS, seed=3)
    assert _same_weights(a, b)
    assert not _same_weights(a, _diffusion(POINTS, seed=4))


def test_train_diffusion_and_extract_reward_leave_the_global_rngs_alone() -> None:
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state(legacy=False)
    _diffusion(POINTS, seed=5)
    _reward(seed=5, source="base_chain")
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state(legacy=False)
    assert np.array_equal(after["state"]["key"], numpy_state["state"]["key"])
    assert after["state"]["pos"] == numpy_state["state"]["pos"]
    assert (after["has_gauss"], after["gauss"]) == (numpy_state["has_gauss"], numpy_state["gauss"])


def test_train_diffusion_checkpoints_a_loadable_model(tmp_path: Path) -> None:
    model = _diffusion(POINTS, checkpoint_dir=tmp_path / "run", checkpoint_every=1)
    back = rr_gym.load(tmp_path / "run" / "model")
    assert isinstance(back, GaussianDiffusion) and _same_weights(back, model)
    resumed = _diffusion(POINTS, steps=3, checkpoint_dir=tmp_path / "run", resume=True)
    assert resumed.training_config["steps_done"] == 3


# ---------------------------------------------------------------------------- extract_reward
def test_extract_reward_carries_the_models_layout_normalizer_and_schedule() -> None:
    norm = Normalizer(np.array([0.5, -0.5]), np.array([2.0, 1.0]), "gaussian")
    base = GaussianMixtureDiffusion(
        np.zeros((1, 2)), np.ones((1, 2)), NoiseSchedule(10), normalizer=norm
    )
    expert = GaussianMixtureDiffusion(
        np.ones((1, 2)), np.ones((1, 2)), NoiseSchedule(10), normalizer=norm
    )
    base.metadata = {"dataset_id": "base-v0", "shared": 1}
    reward = _reward(base, expert, target="score", eval_at="x_t", l2=0.1, metadata={"k": 2})
    assert isinstance(reward, RelativeRewardModel) and not reward.training
    assert reward.normalizer == norm and reward.layout == base.layout
    assert reward.schedule == NoiseSchedule(10).to_dict()
    assert reward.metadata == {"dataset_id": "base-v0", "shared": 1, "k": 2}
    config = reward.training_config
    assert (config["target"], config["eval_at"], config["l2"]) == ("score", "x_t", 0.1)
    assert config["source"] == "data" and config["steps_done"] == 2
    assert reward.net.config["hidden_dim"] == 8
    assert reward.predict(POINTS, t=0).shape == (64,)


def test_extract_reward_on_windows_and_a_window_dataset() -> None:
    dataset = _episodes_dataset()
    norm = dataset.fit_normalizer()
    base, expert = (
        GaussianMixtureDiffusion(
            np.full((1, 3), mean),
            np.ones((1, 3)),
            NoiseSchedule(10),
            horizon=4,
            layout=LAYOUT,
            normalizer=norm,
        )
        for mean in (0.0, 0.5)
    )
    for data in (dataset, dataset.windows):
        reward = _reward(base, expert, data, window=2, reduction="mean")
        assert (reward.window, reward.reduction, reward.layout) == (2, "mean", LAYOUT)
        assert reward.predict(dataset.windows).shape == (len(dataset),)


def test_extract_reward_same_seed_same_weights_other_seed_other_weights() -> None:
    a, b = _reward(seed=1), _reward(seed=1)
    assert _same_weights(a, b)
    assert not _same_weights(a, _reward(seed=2))


def test_extract_reward_leaves_the_models_weights_alone() -> None:
    base, expert = mlp_diffusion(n_steps=10), mlp_diffusion(n_steps=10, seed=1)
    before = _weights(base), _weights(expert)
    _reward(base, expert)
    assert all(torch.equal(before[0][k], v) for k, v in base.state_dict().items())
    assert all(torch.equal(before[1][k], v) for k, v in expert.state_dict().items())


@pytest.mark.parametrize("which", ["base", "expert"])
def test_extract_reward_refuses_what_is_not_a_diffusion_model(which: str) -> None:
    model = _diffusion(POINTS)
    models = {"base": model, "expert": model, which: "foo"}
    with pytest.raises(ConfigError, match=f"{which} is a str \\('foo'\\); expected a Gauss"):
        rr_gym.extract_reward(models["base"], models["expert"], POINTS, steps=1)


def test_resume_with_other_data_or_options_is_refused_naming_both(tmp_path: Path) -> None:
    _diffusion(POINTS, steps=2, checkpoint_dir=tmp_path / "run")
    with pytest.raises(CheckpointError, match=r"data_sha256: checkpoint '\w+', now '\w+'"):
        _diffusion(POINTS + 1.0, steps=3, checkpoint_dir=tmp_path / "run", resume=True)
    # another fitted normaliser: the normalised training data differ
    other = Normalizer.fit(POINTS * 2.0, "gaussian")
    with pytest.raises(CheckpointError, match="data_sha256"):
        _diffusion(POINTS, steps=3, checkpoint_dir=tmp_path / "run", resume=True, normalizer=other)
    with pytest.raises(CheckpointError, match=r"lr: checkpoint 0.0002, now 0.001"):
        _diffusion(POINTS, steps=3, checkpoint_dir=tmp_path / "run", resume=True, lr=1e-3)
    resumed = _diffusion(POINTS, steps=3, checkpoint_dir=tmp_path / "run", resume=True)
    assert resumed.training_config["steps_done"] == 3


def test_resume_refuses_fewer_steps_than_done_and_says_when_all_are_done(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _diffusion(POINTS, steps=4, checkpoint_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match=r"steps=2 but the checkpoint .* already holds 4 steps"):
        _diffusion(POINTS, steps=2, checkpoint_dir=tmp_path / "run", resume=True)
    with caplog.at_level("WARNING", logger="rr_gym.trainer"):
        done = _diffusion(POINTS, steps=4, checkpoint_dir=tmp_path / "run", resume=True)
    assert done.training_config["steps_done"] == 4
    assert "all 4 requested steps are already done" in caplog.text


def test_resuming_a_reward_against_other_diffusion_models_is_refused(tmp_path: Path) -> None:
    base = _diffusion(POINTS, seed=0)
    expert = _diffusion(POINTS + 0.5, seed=1, normalizer=base.normalizer)
    _reward(base, expert, checkpoint_dir=tmp_path / "r")
    other = _diffusion(POINTS + 0.5, seed=2, normalizer=base.normalizer)
    with pytest.raises(CheckpointError, match="expert_sha256"):
        _reward(base, other, steps=3, checkpoint_dir=tmp_path / "r", resume=True)


def test_extract_reward_refuses_incompatible_models() -> None:
    with pytest.raises(IncompatibleModelsError, match="horizon: base has 1, expert has 2"):
        _reward(expert=gaussian([1.0, 0.0], [0.5, 0.5], n_steps=10, horizon=2))
    with pytest.raises(IncompatibleModelsError, match="noise schedule"):
        _reward(expert=gaussian([1.0, 0.0], [0.5, 0.5], n_steps=20))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": 2}, "window=2 exceeds the models' horizon 1"),
        ({"window": 0}, "window=0"),
        ({"reduction": "max"}, "reduction='max'"),
        ({"target": "eps"}, "target='eps'"),
        ({"eval_at": "x0"}, "eval_at='x0'"),
        ({"source": "expert"}, "source='expert'"),
        ({"l2": -1.0}, "l2=-1.0"),
        ({"lr": 0.0}, "lr=0.0"),
        ({"lr": float("nan")}, "lr=nan"),
        ({"steps": 0}, "steps=0; expected an int >= 1"),
        ({"device": "not-a-device"}, "device='not-a-device'"),
    ],
)
def test_extract_reward_bad_options_are_config_errors(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _reward(**kwargs)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((8, 2, 2)), "windows have horizon 2 but horizon=1"),
        (np.zeros((8, 3)), "last dimension 3 given to a normalizer of dim 2"),
        (np.full((8, 2), np.inf), "non-finite"),
    ],
)
def test_extract_reward_bad_data_is_a_data_error(data: np.ndarray, match: str) -> None:
    with pytest.raises(DataError, match=match):
        _reward(data=data)


# ---------------------------------------------------------------------------- devices
def test_unavailable_cuda_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=r"device='cuda' asks for CUDA but .* is False"):
        _diffusion(POINTS, device="cuda")
    with pytest.raises(ConfigError, match="device='cuda' asks for CUDA"):
        _reward(device="cuda")


def test_cpu_device_object_works() -> None:
    model = _diffusion(POINTS, device=torch.device("cpu"))
    assert model.device == torch.device("cpu")
    assert _reward(device=torch.device("cpu")).device == torch.device("cpu")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_train_and_extract_on_cuda(tmp_path: Path) -> None:
    model = _diffusion(POINTS, device="cuda")
    assert model.device.type == "cuda"
    base = gaussian([0.0, 0.0], [1.0, 1.0], n_steps=10)
    expert = gaussian([1.0, 0.0], [0.5, 0.5], n_steps=10)
    reward = _reward(base, expert, device="cuda")
    assert reward.device.type == "cuda"
    assert np.isfinite(reward.predict(POINTS)).all()
    back = rr_gym.load(reward.save(tmp_path / "r"), device="cuda")
    np.testing.assert_allclose(back.predict(POINTS), reward.predict(POINTS), atol=1e-5)


# ---------------------------------------------------------------------------- load
def test_load_returns_the_saved_kind_of_model(tmp_path: Path) -> None:
    diffusion = rr_gym.load(mlp_diffusion().save(tmp_path / "diffusion"))
    assert type(diffusion) is GaussianDiffusion
    reward = rr_gym.load(relative_reward().save(tmp_path / "reward"), device="cpu")
    assert type(reward) is RelativeRewardModel


def test_load_of_a_directory_that_is_no_checkpoint_is_a_checkpoint_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="is not an rr_gym checkpoint"):
        rr_gym.load(tmp_path / "empty")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="is not an rr_gym checkpoint"):
        rr_gym.load(tmp_path / "other")
    with pytest.raises(CheckpointError, match="is not an rr_gym checkpoint"):
        rr_gym.load(tmp_path / "missing")


def test_extract_reward_refuses_a_dataset_of_another_layout() -> None:
    dataset = _episodes_dataset()
    other = TransitionLayout.from_sizes(observation=1, action=2)
    base, expert = (
        GaussianMixtureDiffusion(
            np.full((1, 3), mean), np.ones((1, 3)), NoiseSchedule(10), horizon=4, layout=other
        )
        for mean in (0.0, 0.5)
    )
    with pytest.raises(IncompatibleModelsError, match=r"data has layout .*observation:2.*models"):
        _reward(base, expert, dataset)


def test_train_diffusion_fits_the_normalizer_on_real_steps_only() -> None:
    rng = np.random.default_rng(0)
    episodes = [rng.normal(5.0, 1.0, size=(n, 3)).astype(np.float32) for n in (5, 6)]
    padded = windows_from_arrays(
        episodes,
        [np.ones(len(e)) for e in episodes],
        horizon=4,
        stride=4,
        tail="pad",
        layout=LAYOUT,
    )
    assert padded.valid is not None and not padded.valid.all()
    model = _diffusion(padded, horizon=4, denoiser="mlp")
    assert model.normalizer == padded.fit_normalizer()


def test_a_trained_model_can_be_trained_further() -> None:
    first = _diffusion(POINTS)
    before = _weights(first)
    assert all(p.requires_grad for p in first.parameters())
    config = TrainConfig(steps=2, batch_size=8, progress=False)
    trainer = DiffusionTrainer(first, torch.as_tensor(POINTS[:, None]), config, torch.device("cpu"))
    trainer.fit()
    assert not all(torch.equal(before[k], v) for k, v in first.state_dict().items())


def test_extract_reward_passes_the_chain_pool_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    original = gradient_matching.GradientMatchingTrainer.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.update(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(gradient_matching.GradientMatchingTrainer, "__init__", spy)
    _reward(source="base_chain", chain_pool_size=4, chain_refresh=1)
    assert (seen["source"], seen["chain_pool_size"], seen["chain_refresh"]) == ("base_chain", 4, 1)
