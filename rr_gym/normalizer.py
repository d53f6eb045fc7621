"""Per-dimension normalisers fit on data and saved with every model.

Diffusion models and rewards work in normalised space; the normaliser maps raw transitions
``(..., dim)`` to it and back. It is a plain value object: JSON round-trips exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import numpy as np
import torch

from rr_gym.errors import ConfigError, DataError
from rr_gym.utils.validation import check_finite

__all__ = ["Normalizer", "NormalizerKind"]

NormalizerKind = Literal["gaussian", "minmax", "identity"]
_KINDS = ("gaussian", "minmax", "identity")
ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


class Normalizer:
    """An affine per-dimension map ``y = (x - shift) / scale``.

    Kinds:
        - ``"gaussian"``: shift = mean, scale = std (zero mean, unit variance).
        - ``"minmax"``: maps [min, max] to [-1, 1].
        - ``"identity"``: shift 0, scale 1.

    Constant dimensions get scale 1 so nothing divides by zero.

    Example:
        >>> x = np.array([[0.0, 10.0], [2.0, 30.0]])
        >>> norm = Normalizer.fit(x, kind="minmax")
        >>> norm.normalize(x)
        array([[-1., -1.],
               [ 1.,  1.]])
        >>> np.allclose(norm.unnormalize(norm.normalize(x)), x)
        True
    """

    def __init__(self, shift: np.ndarray, scale: np.ndarray, kind: NormalizerKind) -> None:
        if kind not in _KINDS:
            raise ConfigError(f"normalizer kind={kind!r}; expected one of {list(_KINDS)}")
        shift = np.asarray(shift, dtype=np.float64).reshape(-1)
        scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        if shift.shape != scale.shape:
            raise ConfigError(f"shift has shape {shift.shape} but scale {scale.shape}")
        if np.any(scale <= 0) or not np.all(np.isfinite(scale)) or not np.all(np.isfinite(shift)):
            raise ConfigError("normalizer scale must be positive and finite, shift finite")
        self.kind: NormalizerKind = kind
        self.shift = shift
        self.scale = scale
        self._torch_cache: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, ...]] = {}

    @classmethod
    def fit(cls, x: np.ndarray, kind: NormalizerKind = "gaussian") -> Normalizer:
        """Fit on ``x`` of shape ``(..., dim)``; statistics are taken over all leading axes."""
        if kind not in _KINDS:
            raise ConfigError(f"normalizer kind={kind!r}; expected one of {list(_KINDS)}")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim < 1 or x.size == 0:
            raise DataError(f"cannot fit a normalizer on an empty array of shape {x.shape}")
        check_finite(x, "normalizer input")
        flat = x.reshape(-1, x.shape[-1])
        dim = flat.shape[1]
        if kind == "identity":
            return cls(np.zeros(dim), np.ones(dim), kind)
        if kind == "gaussian":
            shift, scale = flat.mean(0), flat.std(0)
        else:
            lo, hi = flat.min(0), flat.max(0)
            shift, scale = (hi + lo) / 2, (hi - lo) / 2
        scale = np.where(scale > 1e-8, scale, 1.0)
        return cls(shift, scale, kind)

    @classmethod
    def identity(cls, dim: int) -> Normalizer:
        """A normaliser that changes nothing, for data already in model space."""
        return cls(np.zeros(dim), np.ones(dim), "identity")

    @property
    def dim(self) -> int:
        """Number of dimensions it normalises."""
        return int(self.shift.shape[0])

    def _params(self, x: ArrayT) -> tuple[Any, Any]:
        if x.shape[-1] != self.dim:
            raise DataError(
                f"array with last dimension {x.shape[-1]} given to a normalizer of dim {self.dim}"
            )
        if isinstance(x, torch.Tensor):
            key = (x.device, x.dtype)
            if key not in self._torch_cache:
                self._torch_cache[key] = (
                    torch.as_tensor(self.shift, dtype=x.dtype, device=x.device),
                    torch.as_tensor(self.scale, dtype=x.dtype, device=x.device),
                )
            return self._torch_cache[key]
        return self.shift, self.scale

    def normalize(self, x: ArrayT) -> ArrayT:
        """Raw ``(..., dim)`` to normalised ``(..., dim)`` (NumPy keeps float dtype)."""
        shift, scale = self._params(x)
        if isinstance(x, np.ndarray):
            return ((x - shift) / scale).astype(x.dtype if x.dtype.kind == "f" else np.float64)
        return (x - shift) / scale

    def unnormalize(self, y: ArrayT) -> ArrayT:
        """Normalised ``(..., dim)`` back to raw ``(..., dim)``."""
        shift, scale = self._params(y)
        if isinstance(y, np.ndarray):
            return (y * scale + shift).astype(y.dtype if y.dtype.kind == "f" else np.float64)
        return y * scale + shift

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form; floats round-trip exactly through ``json``."""
        return {"kind": self.kind, "shift": self.shift.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Normalizer:
        """Rebuild a normaliser written by :meth:`to_dict`."""
        try:
            return cls(np.asarray(data["shift"]), np.asarray(data["scale"]), data["kind"])
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"not a Normalizer dict: keys {sorted(data)}") from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Normalizer):
            return NotImplemented
        return (
            self.kind == other.kind
            and self.shift.shape == other.shift.shape
            and bool(np.array_equal(self.shift, other.shift))
            and bool(np.array_equal(self.scale, other.scale))
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.shift.tobytes(), self.scale.tobytes()))

    def __repr__(self) -> str:
        return f"Normalizer(kind={self.kind!r}, dim={self.dim})"
