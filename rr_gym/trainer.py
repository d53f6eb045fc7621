"""The training loop shared by every rr_gym trainer: batches, AdamW, clipping, EMA,
progress bar, periodic atomic checkpoints and exact resume."""

from __future__ import annotations

import abc
import copy
import dataclasses
import hashlib
import json
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from rr_gym.checkpoint import Checkpointable, read_checkpoint, write_checkpoint
from rr_gym.errors import CheckpointError, ConfigError, TrainingDivergedError
from rr_gym.utils.ema import EMA
from rr_gym.utils.validation import check_int, check_number

__all__ = ["TrainConfig", "TrainResult", "Trainer", "tensor_digest"]

logger = logging.getLogger(__name__)

#: Consecutive non-finite gradients after which training is declared diverged.
_MAX_SKIP_RUN = 10


@dataclass
class TrainConfig:
    """Options of the training loop (the model-specific options live on each trainer).

    Attributes:
        steps: total optimisation steps (a resumed run continues up to this number).
        batch_size: samples per step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        grad_clip: max global gradient norm; None disables clipping.
        ema_decay: decay of the weight average; None disables EMA.
        log_every: steps between entries of the loss history.
        checkpoint_every: steps between checkpoints (needs ``checkpoint_dir``).
        checkpoint_dir: where ``trainer/`` (resumable state) and ``model/`` are written
            (kept as a ``str``).
        seed: seed of the trainer's own random generator.
        progress: show a progress bar.
    """

    steps: int
    batch_size: int = 64
    lr: float = 2e-4
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    ema_decay: float | None = 0.995
    log_every: int = 100
    checkpoint_every: int | None = None
    checkpoint_dir: str | os.PathLike[str] | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if self.checkpoint_dir is not None:
            self.checkpoint_dir = os.fspath(self.checkpoint_dir)
        self.steps = check_int(self.steps, "steps", minimum=0)
        self.batch_size = check_int(self.batch_size, "batch_size", minimum=1)
        self.log_every = check_int(self.log_every, "log_every", minimum=1)
        self.seed = check_int(self.seed, "seed", minimum=0)
        self.lr = check_number(self.lr, "lr", positive=True)
        self.weight_decay = check_number(self.weight_decay, "weight_decay", minimum=0.0)
        if self.checkpoint_every is not None:
            self.checkpoint_every = check_int(
                self.checkpoint_every, "checkpoint_every", minimum=1, hint=" (None disables)"
            )
        if self.grad_clip is not None:
            self.grad_clip = check_number(
                self.grad_clip, "grad_clip", positive=True, hint=" (None disables clipping)"
            )
        if self.ema_decay is not None:
            hint = " in (0, 1) (None disables EMA)"
            self.ema_decay = check_number(self.ema_decay, "ema_decay", positive=True, hint=hint)
            if self.ema_decay >= 1.0:
                raise ConfigError(f"ema_decay={self.ema_decay!r}; expected a number{hint}")
        if self.checkpoint_every is not None and self.checkpoint_dir is None:
            raise ConfigError(
                "checkpoint_every is set but checkpoint_dir is None; give a directory"
            )

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> TrainConfig:
        """The loop options among ``options``, every other entry ignored.

        The public train functions take the loop options as keyword arguments beside their
        model's options and build their loop with ``TrainConfig.from_options(locals())``;
        a field they do not take keeps its default here.

        Example:
            >>> TrainConfig.from_options({"steps": 10, "lr": 1e-3, "hidden_dim": 64}).lr
            0.001
        """
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in options.items() if name in names})


@dataclass
class TrainResult:
    """Summary of :meth:`Trainer.fit`: steps reached, loss history and throughput."""

    steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    wall_time_s: float = 0.0
    steps_per_s: float = 0.0


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in state["state"].items():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, entry in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


def tensor_digest(tensors: Iterable[torch.Tensor]) -> str:
    """SHA-256 (hex) of the dtypes, shapes and bytes of ``tensors``, in order."""
    h = hashlib.sha256()
    for tensor in tensors:
        array = tensor.detach().to("cpu").contiguous()
        h.update(f"{array.dtype}{tuple(array.shape)}".encode())
        h.update(array.view(torch.uint8).numpy().tobytes() if array.numel() else b"")
    return h.hexdigest()


def _prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name[len(prefix) :]: v for name, v in tensors.items() if name.startswith(prefix)}


class Trainer(abc.ABC):
    """Base trainer: subclasses define the loss and which model the training produces.

    Args:
        module: the module whose parameters are optimised.
        data: training samples ``(N, ...)`` already in the model's normalised space.
        config: loop options.
        device: where training runs.
    """

    def __init__(
        self, module: nn.Module, data: torch.Tensor, config: TrainConfig, device: torch.device
    ) -> None:
        self.config = config
        self.device = device
        self.module = module.to(device)
        self.data = data.to(device=device, dtype=torch.float32)
        params = [p for p in self.module.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.ema = EMA(self.module, config.ema_decay) if config.ema_decay is not None else None
        self.generator = torch.Generator().manual_seed(config.seed)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._data_digest: str | None = None  # computed once, when a fingerprint is needed
        self.skipped_steps = 0  # steps whose gradient was not finite (no update was made)
        self._skip_run = 0  # consecutive such steps

    # ------------------------------------------------------------------ subclass API
    @abc.abstractmethod
    def compute_loss(self, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scalar loss of one batch ``(B, ...)`` and extra scalar tensors to log (read only
        every ``log_every`` steps, so no device sync happens on other steps)."""

    @abc.abstractmethod
    def export(self, module: nn.Module) -> Checkpointable:
        """The trained model built around ``module`` (the EMA copy when EMA is on)."""

    def options(self) -> dict[str, Any]:
        """Trainer-specific options recorded in the exported model's checkpoint."""
        return {}

    def extra_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """Subclass state beyond weights, optimiser and RNG that exact resume needs:
        ``(tensors, json_metadata)``, restored by :meth:`load_extra_state`."""
        return {}, {}

    def load_extra_state(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` saved."""
        del tensors, meta  # the base trainer has no extra state

    # ------------------------------------------------------------------ loop
    def sample_batch(self) -> torch.Tensor:
        """A batch of ``batch_size`` samples drawn uniformly with replacement."""
        idx = torch.randint(len(self.data), (self.config.batch_size,), generator=self.generator)
        return self.data[idx.to(self.device)]

    def training_config(self) -> dict[str, Any]:
        """What produced the model: loop options, trainer options, steps done."""
        loop = dataclasses.asdict(self.config)
        loop.pop("progress")
        return {"trainer": type(self).__name__, **loop, **self.options(), "steps_done": self.step}

    def model(self) -> Checkpointable:
        """The trained model so far (EMA weights when EMA is on), as an independent copy."""
        source = self.ema.shadow if self.ema is not None else self.module
        # The EMA shadow is frozen; the exported copy is an ordinary module again, so it can
        # be fine-tuned by another trainer.
        model = self.export(copy.deepcopy(source).requires_grad_(True).eval())
        model.training_config = self.training_config()  # type: ignore[attr-defined]
        return model

    def fit(self, *, resume: bool = False) -> TrainResult:
        """Train up to ``config.steps`` steps; with ``resume``, continue from the checkpoint."""
        cfg = self.config
        if resume:
            if cfg.checkpoint_dir is None:
                raise ConfigError("resume=True needs a checkpoint_dir to resume from")
            state_dir = Path(cfg.checkpoint_dir) / "trainer"
            if state_dir.exists():
                self.load_state(state_dir, check_fingerprint=True)
                if self.step > cfg.steps:
                    raise ConfigError(
                        f"steps={cfg.steps} but the checkpoint {state_dir} already holds "
                        f"{self.step} steps; ask for steps >= {self.step} to resume from it, "
                        "or use another checkpoint_dir to train from scratch"
                    )
                if self.step == cfg.steps:
                    logger.warning(
                        "%s: all %d requested steps are already done in %s; returning that "
                        "model without training",
                        type(self).__name__,
                        self.step,
                        state_dir,
                    )
                else:
                    logger.info("resumed %s at step %d", type(self).__name__, self.step)
        start_step, start = self.step, time.perf_counter()
        self.module.train()
        bar = tqdm(
            total=cfg.steps,
            initial=self.step,
            desc=type(self).__name__,
            disable=not cfg.progress,
            dynamic_ncols=True,
        )
        with bar:
            while self.step < cfg.steps:
                loss, logs = self.compute_loss(self.sample_batch())
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self._finite_gradient(cfg.grad_clip):
                    self.optimizer.step()
                    if self.ema is not None:
                        self.ema.update(self.module)
                self.step += 1
                bar.update(1)
                log = self.step % cfg.log_every == 0 or self.step == cfg.steps
                save = bool(cfg.checkpoint_every) and self.step % cfg.checkpoint_every == 0
                if log or save:
                    value = self._check_finite(loss)
                if log:
                    entry = {"step": float(self.step), "loss": value}
                    if self.skipped_steps:
                        entry["skipped_steps"] = float(self.skipped_steps)
                    entry.update({k: v.item() for k, v in logs.items()})
                    self.history.append(entry)
                    bar.set_postfix(loss=f"{entry['loss']:.4g}")
                if save:
                    self.save_checkpoint()
        if cfg.checkpoint_dir is not None and self.step > start_step:
            self.save_checkpoint()
        elapsed = time.perf_counter() - start
        done = self.step - start_step
        return TrainResult(
            steps=self.step,
            history=list(self.history),
            wall_time_s=elapsed,
            steps_per_s=done / elapsed if elapsed > 0 else 0.0,
        )

    def _finite_gradient(self, grad_clip: float | None) -> bool:
        """Clip the gradient to ``grad_clip``; False (and no update) when it is not finite.

        A rare non-finite gradient (an overflow in a double backward on an outlying batch)
        would turn every weight into NaN; like a loss scaler, the loop skips that update and
        counts it (``skipped_steps``). Many in a row mean the training itself diverged.
        """
        norm = nn.utils.clip_grad_norm_(self.module.parameters(), grad_clip or math.inf)
        if bool(torch.isfinite(norm)):
            self._skip_run = 0
            return True
        self.optimizer.zero_grad(set_to_none=True)
        self.skipped_steps += 1
        self._skip_run += 1
        if self.skipped_steps == 1:
            logger.warning(
                "%s: non-finite gradient at step %d; the update is skipped (counted in "
                "history as skipped_steps)",
                type(self).__name__,
                self.step,
            )
        if self._skip_run >= _MAX_SKIP_RUN:
            raise TrainingDivergedError(
                f"{type(self).__name__} diverged: {self._skip_run} non-finite gradients in a "
                f"row up to step {self.step}; expected finite gradients. Check the data's "
                "normaliser, lower lr, or set grad_clip"
            )
        return False

    def _check_finite(self, loss: torch.Tensor) -> float:
        """``loss`` as a float; raise when it is NaN or infinite (checked at log and
        checkpoint steps)."""
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDivergedError(
                f"{type(self).__name__} diverged: loss {value} at step {self.step}; expected a "
                "finite loss. Check the data's normaliser (a near-constant dimension gives a "
                "tiny scale), lower lr, or set grad_clip"
            )
        return value

    def fingerprint(self) -> dict[str, Any]:
        """What a resumed run must share with the run that wrote its checkpoint.

        The SHA-256 of the training data (already normalised, so another normaliser shows),
        the loop options that shape the result (all but ``steps``, ``progress``,
        ``log_every`` and the checkpoint options) and :meth:`options`. Subclasses add what
        else they train against (e.g. the diffusion models of gradient matching).
        """
        if self._data_digest is None:
            self._data_digest = tensor_digest([self.data])
        loop = dataclasses.asdict(self.config)
        for key in ("steps", "progress", "log_every", "checkpoint_every", "checkpoint_dir"):
            loop.pop(key)
        return {
            "trainer": type(self).__name__,
            "data_sha256": self._data_digest,
            "data_shape": list(self.data.shape),
            **loop,
            **self.options(),
        }

    def _check_fingerprint(self, path: str | Path, saved: dict[str, Any] | None) -> None:
        if saved is None:
            logger.warning(
                "%s was written by an rr_gym without run fingerprints: resuming without "
                "checking that its data and options match this run's",
                path,
            )
            return
        now = json.loads(json.dumps(self.fingerprint()))  # lists for tuples, as saved
        differ = [k for k in sorted(set(saved) | set(now)) if saved.get(k) != now.get(k)]
        if differ:
            detail = "; ".join(
                f"{k}: checkpoint {saved.get(k)!r}, now {now.get(k)!r}" for k in differ
            )
            raise CheckpointError(
                f"resume=True but {path} was written by a different run ({detail}). Resume "
                "with the same data, normaliser and options, or give another checkpoint_dir "
                "(or delete this one) to start over"
            )

    # ------------------------------------------------------------------ state
    def save_checkpoint(self) -> None:
        """Write ``checkpoint_dir/trainer`` (resumable) and ``checkpoint_dir/model``."""
        assert self.config.checkpoint_dir is not None  # guaranteed by TrainConfig
        root = Path(self.config.checkpoint_dir)
        self.save_state(root / "trainer")
        self.model().save(root / "model")

    def save_state(self, path: str | Path) -> None:
        """Save everything needed to continue training exactly (weights, EMA, optimiser, RNG)."""
        optim_tensors, optim_meta = _flatten_optimizer(self.optimizer.state_dict())
        tensors = {f"module.{k}": v for k, v in self.module.state_dict().items()}
        if self.ema is not None:
            tensors.update({f"ema.{k}": v for k, v in self.ema.shadow.state_dict().items()})
        tensors.update(optim_tensors)
        tensors["rng"] = self.generator.get_state()
        extra_tensors, extra_meta = self.extra_state()
        tensors.update({f"extra.{k}": v for k, v in extra_tensors.items()})
        header = {
            "class": "TrainerState",
            "trainer": type(self).__name__,
            "step": self.step,
            "ema_updates": self.ema.updates if self.ema is not None else 0,
            "skipped_steps": self.skipped_steps,
            "optimizer": optim_meta,
            "history": self.history,
            "extra": extra_meta,
            "config": self.training_config(),
            "fingerprint": self.fingerprint(),
        }
        write_checkpoint(path, tensors, header)

    def load_state(self, path: str | Path, *, check_fingerprint: bool = False) -> None:
        """Restore a state written by :meth:`save_state` by the same kind of trainer.

        Args:
            path: the state's folder.
            check_fingerprint: refuse a state whose :meth:`fingerprint` (data, options)
                differs from this trainer's.

        Raises:
            CheckpointError: another trainer's state, a state that does not fit the model,
                or (with ``check_fingerprint``) one written by a different run.
        """
        tensors, header = read_checkpoint(path)
        if header.get("class") != "TrainerState" or header.get("trainer") != type(self).__name__:
            raise CheckpointError(
                f"{path} holds state of {header.get('trainer')!r}, expected {type(self).__name__!r}"
            )
        if check_fingerprint:
            self._check_fingerprint(path, header.get("fingerprint"))
        try:
            self.module.load_state_dict(_prefixed("module.", tensors))
            if self.ema is not None:
                self.ema.shadow.load_state_dict(_prefixed("ema.", tensors))
                self.ema.updates = int(header["ema_updates"])
            self.optimizer.load_state_dict(_unflatten_optimizer(tensors, header["optimizer"]))
        except (RuntimeError, KeyError, ValueError) as exc:
            raise CheckpointError(
                f"{path} does not fit this trainer's model ({exc}); was it written for a "
                "different network size?"
            ) from exc
        self.generator.set_state(tensors["rng"])
        self.step = int(header["step"])
        self.history = list(header.get("history", []))
        self.skipped_steps = int(header.get("skipped_steps", 0))
        self.load_extra_state(_prefixed("extra.", tensors), header.get("extra", {}))
