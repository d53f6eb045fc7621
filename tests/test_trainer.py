"""The shared training loop: exact resume, periodic checkpoints, history, validation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from rr_gym.checkpoint import load, read_checkpoint
from rr_gym.diffusion import GaussianDiffusion
from rr_gym.diffusion.training import DiffusionTrainer
from rr_gym.errors import CheckpointError, ConfigError, DataError, TrainingDivergedError
from rr_gym.rewards import GradientMatchingTrainer, RelativeRewardModel
from rr_gym.trainer import TrainConfig, Trainer
from tests._factories import gaussian, mlp_diffusion, relative_reward

CPU = torch.device("cpu")
DATA = torch.as_tensor(np.random.default_rng(0).normal(size=(128, 1, 2)), dtype=torch.float32)


def _config(steps: int, checkpoint_dir: Path | None = None, **kwargs: object) -> TrainConfig:
    options: dict[str, object] = {"batch_size": 16, "lr": 1e-3, "log_every": 5, "progress": False}
    options.update(kwargs)
    return TrainConfig(
        steps=steps,
        checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir),
        **options,  # type: ignore[arg-type]
    )


def diffusion_trainer(config: TrainConfig, seed: int = 0, hidden_dim: int = 16) -> Trainer:
    return DiffusionTrainer(mlp_diffusion(seed=seed, hidden_dim=hidden_dim), DATA, config, CPU)


def matching_trainer(
    config: TrainConfig, seed: int = 0, hidden_dim: int = 16, **options: object
) -> Trainer:
    base = gaussian([0.0, 0.0], [1.0, 1.0], n_steps=10)
    expert = gaussian([1.0, -0.5], [0.5, 0.8], n_steps=10)
    reward = relative_reward(seed=seed, hidden_dim=hidden_dim)
    return GradientMatchingTrainer(reward, base, expert, DATA, config, CPU, **options)  # type: ignore[arg-type]


TRAINERS: dict[str, Callable[..., Trainer]] = {
    "diffusion": diffusion_trainer,
    "matching": matching_trainer,
    "matching_chain": lambda config, **kw: matching_trainer(
        config, source="base_chain", chain_pool_size=8, chain_refresh=4, **kw
    ),
}


def _assert_same_state(a: Trainer, b: Trainer, *, history: bool = True) -> None:
    for sa, sb in ((a.module.state_dict(), b.module.state_dict()),):
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), key
    assert a.ema is not None and b.ema is not None
    for key, value in a.ema.shadow.state_dict().items():
        assert torch.equal(value, b.ema.shadow.state_dict()[key]), f"ema.{key}"
    assert a.ema.updates == b.ema.updates
    opt_a, opt_b = a.optimizer.state_dict()["state"], b.optimizer.state_dict()["state"]
    for idx in opt_a:
        for key, value in opt_a[idx].items():
            assert torch.equal(value, opt_b[idx][key]), f"optimizer {idx} {key}"
    assert torch.equal(a.generator.get_state(), b.generator.get_state())
    assert a.step == b.step
    if history:
        assert a.history == b.history


@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path: Path, kind: str) -> None:
    make = TRAINERS[kind]
    full = make(_config(20, tmp_path / "full", checkpoint_every=10))
    full.fit()
    first = make(_config(10, tmp_path / "split"))
    assert first.fit().steps == 10
    # A fresh trainer with other initial weights: resuming must restore everything.
    second = make(_config(20, tmp_path / "split"), seed=1)
    result = second.fit(resume=True)
    assert result.steps == 20
    _assert_same_state(full, second)
    exported_full, exported_split = full.model(), second.model()
    for key, value in exported_full.state_dict().items():
        assert torch.equal(value, exported_split.state_dict()[key]), key


def test_resume_from_an_odd_step_is_bit_identical(tmp_path: Path) -> None:
    # Resuming between two refreshes of the base-chain pool (Algorithm 2) must rebuild the
    # same pool as the uninterrupted run used.
    make = TRAINERS["matching_chain"]
    full = make(_config(11, tmp_path / "full"))
    full.fit()
    make(_config(6, tmp_path / "split")).fit()
    second = make(_config(11, tmp_path / "split"), seed=1)
    second.fit(resume=True)
    _assert_same_state(full, second, history=False)
    # The interrupted run also logged its last step (6); everything else is identical.
    assert [h for h in second.history if h["step"] != 6] == full.history


def test_resume_without_a_state_starts_fresh(tmp_path: Path) -> None:
    a = diffusion_trainer(_config(5, tmp_path / "a"))
    a.fit(resume=True)
    b = diffusion_trainer(_config(5))
    b.fit()
    for key, value in a.module.state_dict().items():
        assert torch.equal(value, b.module.state_dict()[key])


def test_resume_needs_a_checkpoint_dir() -> None:
    with pytest.raises(ConfigError, match="resume=True needs a checkpoint_dir"):
        diffusion_trainer(_config(5)).fit(resume=True)


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    trainer = diffusion_trainer(_config(5, tmp_path))
    trainer.fit()
    again = diffusion_trainer(_config(5, tmp_path), seed=3)
    result = again.fit(resume=True)
    assert result.steps == 5
    _assert_same_state(trainer, again)


def test_resuming_with_another_network_size_is_a_checkpoint_error(tmp_path: Path) -> None:
    diffusion_trainer(_config(4, tmp_path)).fit()
    with pytest.raises(CheckpointError, match="different network size"):
        diffusion_trainer(_config(8, tmp_path), hidden_dim=32).fit(resume=True)
    matching_trainer(_config(4, tmp_path / "m")).fit()
    with pytest.raises(CheckpointError, match="different network size"):
        matching_trainer(_config(8, tmp_path / "m"), hidden_dim=32).fit(resume=True)


def test_resuming_another_trainers_state_is_a_checkpoint_error(tmp_path: Path) -> None:
    matching_trainer(_config(3, tmp_path)).fit()
    with pytest.raises(
        CheckpointError, match="'GradientMatchingTrainer', expected 'DiffusionTrainer'"
    ):
        diffusion_trainer(_config(6, tmp_path)).fit(resume=True)


def test_periodic_checkpoints_and_final_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trainer = diffusion_trainer(_config(25, tmp_path, checkpoint_every=10))
    saved_at: list[int] = []
    original = trainer.save_checkpoint

    def record() -> None:
        saved_at.append(trainer.step)
        original()

    monkeypatch.setattr(trainer, "save_checkpoint", record)
    trainer.fit()
    assert saved_at == [10, 20, 25]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "trainer"]
    _, header = read_checkpoint(tmp_path / "trainer")
    assert header["step"] == 25 and header["trainer"] == "DiffusionTrainer"
    model = load(tmp_path / "model")
    assert isinstance(model, GaussianDiffusion)
    assert model.training_config["steps_done"] == 25
    assert model.training_config["trainer"] == "DiffusionTrainer"
    assert model.training_config["checkpoint_every"] == 10
    assert "progress" not in model.training_config


def test_periodic_checkpoint_resumes_mid_run(tmp_path: Path) -> None:
    trainer = diffusion_trainer(_config(10, tmp_path, checkpoint_every=4))
    trainer.fit()
    # Simulate a crash after step 8: keep only the periodic state written at step 8.
    _, header = read_checkpoint(tmp_path / "trainer")
    assert header["step"] == 10
    partial = diffusion_trainer(_config(8, tmp_path / "p", checkpoint_every=4))
    partial.fit()
    resumed = diffusion_trainer(_config(10, tmp_path / "p", checkpoint_every=4), seed=2)
    resumed.fit(resume=True)
    _assert_same_state(trainer, resumed, history=False)
    assert [h for h in resumed.history if h["step"] != 8] == trainer.history


def test_history_entries(tmp_path: Path) -> None:
    result = diffusion_trainer(_config(23, log_every=10)).fit()
    assert [entry["step"] for entry in result.history] == [10.0, 20.0, 23.0]
    assert all(set(entry) == {"step", "loss"} for entry in result.history)
    assert all(np.isfinite(entry["loss"]) for entry in result.history)
    assert result.steps == 23 and result.wall_time_s > 0 and result.steps_per_s > 0
    matching = matching_trainer(_config(10, log_every=5)).fit()
    assert [set(entry) for entry in matching.history] == [{"step", "loss", "match"}] * 2


def test_zero_steps_trains_nothing_and_writes_nothing(tmp_path: Path) -> None:
    trainer = diffusion_trainer(_config(0, tmp_path))
    before = {k: v.clone() for k, v in trainer.module.state_dict().items()}
    result = trainer.fit()
    assert result.steps == 0 and result.history == []
    assert not any(tmp_path.iterdir())
    for key, value in trainer.module.state_dict().items():
        assert torch.equal(value, before[key])


def test_training_leaves_global_rng_alone() -> None:
    state = torch.get_rng_state()
    diffusion_trainer(_config(5)).fit()
    matching_trainer(_config(5)).fit()
    TRAINERS["matching_chain"](_config(5)).fit()
    assert torch.equal(torch.get_rng_state(), state)


def test_model_is_an_independent_eval_copy_with_ema_weights() -> None:
    trainer = diffusion_trainer(_config(5))
    trainer.fit()
    model = trainer.model()
    assert isinstance(model, GaussianDiffusion) and not model.training
    assert model is not trainer.module
    assert trainer.ema is not None
    for key, value in trainer.ema.shadow.state_dict().items():
        assert torch.equal(model.state_dict()[key], value)
    no_ema = diffusion_trainer(_config(5, ema_decay=None))
    no_ema.fit()
    assert no_ema.ema is None
    for key, value in no_ema.module.state_dict().items():
        assert torch.equal(no_ema.model().state_dict()[key], value)
    reward = matching_trainer(_config(2)).model()
    assert isinstance(reward, RelativeRewardModel) and not reward.training


def test_diffusion_trainer_refuses_data_of_the_wrong_shape() -> None:
    with pytest.raises(DataError, match=r"expected \(N, 1, 2\)"):
        DiffusionTrainer(mlp_diffusion(), torch.zeros(10, 2, 2), _config(1), CPU)
    with pytest.raises(DataError, match=r"expected \(N, 1, 2\)"):
        DiffusionTrainer(mlp_diffusion(), torch.zeros(10, 2), _config(1), CPU)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": -1}, "steps=-1"),
        ({"steps": 5, "batch_size": 0}, "batch_size=0"),
        ({"steps": 5, "lr": 0.0}, "lr=0.0"),
        ({"steps": 5, "lr": -1e-3}, "lr=-0.001"),
        ({"steps": 5, "log_every": 0}, "log_every=0"),
        ({"steps": 5, "checkpoint_every": 2}, "checkpoint_dir is None"),
        ({"steps": 5, "checkpoint_every": 0, "checkpoint_dir": "x"}, "checkpoint_every=0"),
        ({"steps": 5, "ema_decay": 1.0}, "ema_decay=1.0"),
        ({"steps": 5, "ema_decay": 0.0}, "ema_decay=0.0"),
        ({"steps": 5, "ema_decay": -0.5}, "ema_decay=-0.5"),
        ({"steps": 5, "grad_clip": 0.0}, "grad_clip=0.0"),
        ({"steps": 5, "weight_decay": -0.1}, "weight_decay=-0.1"),
    ],
)
def test_train_config_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_train_config_accepts_disabled_options() -> None:
    config = TrainConfig(steps=0, ema_decay=None, grad_clip=None, checkpoint_every=None)
    assert config.steps == 0 and config.ema_decay is None


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_resumes_on_cuda(tmp_path: Path) -> None:
    cuda = torch.device("cuda")
    trainer = DiffusionTrainer(mlp_diffusion(), DATA, _config(6, tmp_path), cuda)
    trainer.fit()
    assert trainer.model().device.type == "cuda"
    resumed = DiffusionTrainer(mlp_diffusion(seed=1), DATA, _config(8, tmp_path), cuda)
    assert resumed.fit(resume=True).steps == 8
    full = DiffusionTrainer(mlp_diffusion(), DATA, _config(8), cuda)
    full.fit()
    for key, value in full.module.state_dict().items():
        torch.testing.assert_close(resumed.module.state_dict()[key], value)


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_a_diverged_loss_raises_before_a_checkpoint_stores_it(name: str, tmp_path: Path) -> None:
    trainer = TRAINERS[name](_config(8, tmp_path / "ckpt", checkpoint_every=4))
    compute_loss = trainer.compute_loss

    def diverging(batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, logs = compute_loss(batch)
        return loss * torch.tensor(float("nan")) if trainer.step >= 2 else loss, logs

    trainer.compute_loss = diverging  # type: ignore[method-assign]
    with pytest.raises(TrainingDivergedError, match=r"loss nan at step 4.*normaliser"):
        trainer.fit()
    assert not (tmp_path / "ckpt" / "trainer").exists()


def _nan_gradient_at(trainer: Trainer, bad_steps: set[int]) -> None:
    """Make ``trainer``'s gradient NaN (its loss stays finite) at the given steps."""
    compute_loss = trainer.compute_loss

    def patched(batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        loss, logs = compute_loss(batch)
        if trainer.step in bad_steps:
            p = next(trainer.module.parameters())
            loss = loss + 0.0 * torch.sqrt(p.sum() * 0.0)  # d/dp = 0 * inf = NaN
        return loss, logs

    trainer.compute_loss = patched  # type: ignore[method-assign]


def test_a_non_finite_gradient_skips_that_update_and_is_counted() -> None:
    trainer = diffusion_trainer(_config(10))
    _nan_gradient_at(trainer, {3, 4})
    result = trainer.fit()
    assert trainer.skipped_steps == 2 and result.steps == 10
    assert all(torch.isfinite(p).all() for p in trainer.module.parameters())
    assert result.history[-1]["skipped_steps"] == 2


def test_non_finite_gradients_in_a_row_mean_divergence() -> None:
    trainer = diffusion_trainer(_config(30))
    _nan_gradient_at(trainer, set(range(5, 30)))
    with pytest.raises(TrainingDivergedError, match="10 non-finite gradients in a row"):
        trainer.fit()
