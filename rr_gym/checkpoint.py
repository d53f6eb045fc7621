"""Checkpoints: a directory with ``weights.safetensors`` and a ``config.json`` sidecar.

Nothing is unpickled. The JSON names the class, the format version, the rr_gym version, the
SHA-256 of the weights file and (format 2) the SHA-256 of the header itself, so a truncated or
tampered checkpoint, weights or JSON, is refused on load, as are weights that are NaN or
infinite. Directories are written under a temporary name and renamed into place, so a crash
never leaves a half-written checkpoint at the target path; a save replaces only an earlier
checkpoint (or an empty folder) and refuses any other file or folder at its path.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import safetensors.torch
import torch

from rr_gym._version import __version__
from rr_gym.errors import CheckpointError
from rr_gym.utils.device import resolve_device
from rr_gym.utils.io import atomic_directory

__all__ = [
    "FORMAT_VERSION",
    "Checkpointable",
    "is_checkpoint",
    "load",
    "read_checkpoint",
    "write_checkpoint",
]

#: 2: the header records its own SHA-256 (``header_sha256``); 1 is still read.
FORMAT_VERSION = 2
WEIGHTS_FILE = "weights.safetensors"
CONFIG_FILE = "config.json"
_REGISTRY: dict[str, type[Checkpointable]] = {}
T = TypeVar("T", bound="Checkpointable")


def write_checkpoint(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], header: dict[str, Any]
) -> Path:
    """Atomically write ``tensors`` and the JSON-friendly ``header`` to the directory ``path``.

    ``path`` must be absent, an empty folder or an rr_gym checkpoint (see :func:`is_checkpoint`).

    Raises:
        CheckpointError: ``header`` is not JSON-serialisable.
        TargetExistsError: ``path`` is a file or a folder that is not a checkpoint.
    """
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    weights = safetensors.torch.save(flat)
    meta = {
        "format": "rr_gym",
        "format_version": FORMAT_VERSION,
        "rr_gym_version": __version__,
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        **header,
    }
    try:
        meta = json.loads(json.dumps(meta, allow_nan=False))  # hash what will be read back
        meta["header_sha256"] = _header_digest(meta)
        text = json.dumps(meta, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint header is not JSON-serialisable: {exc}") from exc
    with atomic_directory(path, replaces=is_checkpoint, what="an rr_gym checkpoint") as tmp:
        (tmp / WEIGHTS_FILE).write_bytes(weights)
        (tmp / CONFIG_FILE).write_text(text, encoding="utf-8")
    return Path(path)


def _header_digest(header: dict[str, Any]) -> str:
    """SHA-256 of the header's canonical JSON without its own ``header_sha256`` entry."""
    body = {k: v for k, v in header.items() if k != "header_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether the folder ``path`` holds an rr_gym checkpoint (possibly a damaged one).

    True when its ``config.json`` is an rr_gym header, or when it holds nothing but the two
    checkpoint files (a save that was cut short while writing them).
    """
    root = Path(path)
    try:
        names = {p.name for p in root.iterdir()}
    except OSError:  # absent, or not a folder
        return False
    if names and names <= {CONFIG_FILE, WEIGHTS_FILE}:
        return True
    try:
        header = json.loads((root / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(header, dict) and header.get("format") == "rr_gym"


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read and validate a checkpoint directory; returns ``(tensors, header)`` on the CPU.

    ``path`` may also name the directory's ``config.json`` or ``weights.safetensors``.

    Raises:
        CheckpointError: missing files, invalid JSON, unknown format or newer format version,
            weights or a header whose hash differs from the one recorded (truncated or
            tampered), or weights holding NaN or infinite values.
    """
    root = Path(path)
    if root.is_file() and root.name in (WEIGHTS_FILE, CONFIG_FILE):
        root = root.parent
    config_path, weights_path = root / CONFIG_FILE, root / WEIGHTS_FILE
    if not config_path.is_file() or not weights_path.is_file():
        raise CheckpointError(
            f"{root} is not an rr_gym checkpoint: expected a directory holding "
            f"{CONFIG_FILE} and {WEIGHTS_FILE}"
        )
    try:
        header = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(
            f"{config_path} is not valid JSON ({exc}); it may be truncated"
        ) from exc
    if not isinstance(header, dict) or header.get("format") != "rr_gym":
        raise CheckpointError(f"{config_path} is not an rr_gym checkpoint header")
    version = header.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(
            f"{root} has checkpoint format_version={version!r} (written by rr_gym "
            f"{header.get('rr_gym_version')!r}); this rr_gym {__version__} reads versions "
            f"1..{FORMAT_VERSION}: upgrade rr_gym"
        )
    if version >= 2 and header.get("header_sha256") != _header_digest(header):
        raise CheckpointError(
            f"{config_path} does not match the SHA-256 it records (header_sha256): the JSON "
            "was edited or damaged after it was written; restore it or save the model again"
        )
    weights = weights_path.read_bytes()
    digest = hashlib.sha256(weights).hexdigest()
    if digest != header.get("weights_sha256"):
        raise CheckpointError(
            f"{weights_path} has SHA-256 {digest[:12]}… but the header records "
            f"{str(header.get('weights_sha256'))[:12]}…: the weights are truncated or modified"
        )
    try:
        tensors = safetensors.torch.load(weights)
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise CheckpointError(f"{weights_path} is not a valid safetensors file: {exc}") from exc
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise CheckpointError(
                f"{weights_path} holds {bad} NaN or infinite value(s) in {name!r} "
                f"(shape {tuple(tensor.shape)}): the model it stores diverged; train it again"
            )
    return tensors, header


class Checkpointable:
    """Mixin for objects saved as checkpoints and rebuilt by :func:`load`.

    Subclasses register by class name and implement :meth:`checkpoint_state` and
    :meth:`from_checkpoint_state`.
    """

    _checkpoint_registry: ClassVar[dict[str, type[Checkpointable]]] = _REGISTRY

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.__name__] = cls

    def checkpoint_state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """The tensors and the JSON-friendly config that rebuild this object."""
        raise NotImplementedError

    @classmethod
    def from_checkpoint_state(
        cls: type[T], tensors: dict[str, torch.Tensor], config: dict[str, Any]
    ) -> T:
        """Rebuild an object from :meth:`checkpoint_state`'s output (tensors on the CPU)."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save to the directory ``path`` (safetensors + JSON, written atomically).

        ``path`` must be absent, an empty folder or an earlier rr_gym checkpoint (replaced
        atomically); anything else is refused, never moved or deleted.

        Raises:
            TargetExistsError: ``path`` is a file or a folder that is not a checkpoint.
        """
        tensors, config = self.checkpoint_state()
        header = {"class": type(self).__name__, "module": type(self).__module__, "config": config}
        return write_checkpoint(path, tensors, header)

    @classmethod
    def load(cls: type[T], path: str | os.PathLike[str], device: str | torch.device = "cpu") -> T:
        """Load a checkpoint that must hold a ``cls`` (or a subclass)."""
        obj = load(path, device=device)
        if not isinstance(obj, cls):
            raise CheckpointError(f"{path} holds a {type(obj).__name__}, expected a {cls.__name__}")
        return obj


def load(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> Any:
    """Load any rr_gym checkpoint (a diffusion model or a reward model) onto ``device``.

    Raises:
        CheckpointError: the checkpoint is invalid or holds an unknown class.

    Example:
        >>> import tempfile, torch
        >>> from rr_gym.diffusion import GaussianDiffusion, MLPDenoiser, NoiseSchedule
        >>> model = GaussianDiffusion(MLPDenoiser(1, 2, hidden_dim=16), NoiseSchedule(10))
        >>> with tempfile.TemporaryDirectory() as d:
        ...     _ = model.save(f"{d}/model")
        ...     type(load(f"{d}/model")).__name__
        'GaussianDiffusion'
    """
    tensors, header = read_checkpoint(path)
    name = header.get("class")
    cls = _REGISTRY.get(str(name))
    module = header.get("module")
    if cls is None and isinstance(module, str) and module.startswith("rr_gym."):
        # Classes register on import: import the rr_gym module that defines this one.
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise CheckpointError(f"{path} holds class {name!r} of {module}: {exc}") from exc
        cls = _REGISTRY.get(str(name))
    if cls is None:
        raise CheckpointError(
            f"{path} holds class {name!r}, which this rr_gym does not know; known classes: "
            f"{sorted(_REGISTRY)}"
        )
    try:
        obj = cls.from_checkpoint_state(tensors, header["config"])
    except KeyError as exc:
        where = "its header" if "config" not in header else "its header's config"
        raise CheckpointError(
            f"{path} does not rebuild a {name}: {where} lacks the entry {exc.args[0]!r}; the "
            f"checkpoint was edited or written by an incompatible rr_gym "
            f"({header.get('rr_gym_version')!r}); save the model again"
        ) from exc
    except (CheckpointError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path} does not rebuild a valid {name}: {exc}") from exc
    if isinstance(obj, torch.nn.Module):
        obj.to(resolve_device(device))
    return obj
