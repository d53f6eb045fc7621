"""The optional compiled forward pass of a reward MLP (float32, AVX2 + FMA).

``setup.py`` builds ``mlp_kernel.c`` (beside this file) as the optional extension
``rr_gym.wrappers._mlp_kernel``: a plain shared library, called through :mod:`ctypes`. It
evaluates ``Linear, Mish, ..., Mish, Linear`` one layer per pass (bias and Mish fused,
weights packed once in the order they are read): 2.3-2.7x faster than NumPy's BLAS calls
and seven-ufunc Mish at 1-8 rows, 1.3x at 64-256 (benchmarks/RESULTS.md, "Wrappers").
:class:`~rr_gym.wrappers.scoring.RewardScorer` uses it when it was built and the CPU has
AVX2 and FMA, after checking it against the model's ``forward``; otherwise the wrappers
fall back to NumPy, with the same rewards.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import logging

import numpy as np

from rr_gym.errors import ConfigError

__all__ = ["NativeMLP", "available", "load_kernel"]

logger = logging.getLogger(__name__)

_MODULE = "rr_gym.wrappers._mlp_kernel"
_ABI = 1  # rr_mlp_abi() of the mlp_kernel.c this module is written for
_BLOCK = 8  # rows per block in the kernel (RR_BLOCK)
_PTR = ctypes.c_void_p


@functools.cache
def load_kernel() -> ctypes.CDLL | None:
    """The compiled kernel, or ``None`` when it was not built or the CPU lacks AVX2/FMA."""
    try:
        spec = importlib.util.find_spec(_MODULE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.origin:
        logger.debug("%s was not built; reward MLPs run in NumPy", _MODULE)
        return None
    try:
        lib = ctypes.CDLL(spec.origin)
        for name in ("rr_mlp_abi", "rr_mlp_supported"):
            getattr(lib, name).argtypes = []
            getattr(lib, name).restype = ctypes.c_int
        forward = lib.rr_mlp_forward
    except (OSError, AttributeError) as exc:
        logger.warning("cannot load %s (%s); reward MLPs run in NumPy", spec.origin, exc)
        return None
    if lib.rr_mlp_abi() != _ABI:
        logger.warning(
            "%s was built from another version of mlp_kernel.c (interface %d, expected %d); "
            "reward MLPs run in NumPy until it is rebuilt (pip install -e .)",
            spec.origin,
            lib.rr_mlp_abi(),
            _ABI,
        )
        return None
    forward.argtypes = [_PTR, ctypes.c_int64, ctypes.c_int, _PTR, _PTR, _PTR, _PTR, _PTR]
    forward.restype = ctypes.c_int
    if not lib.rr_mlp_supported():
        logger.debug("this CPU lacks AVX2/FMA; reward MLPs run in NumPy")
        return None
    return lib


def available() -> bool:
    """Whether :class:`NativeMLP` can run here."""
    return load_kernel() is not None


def _address(a: np.ndarray) -> int:
    return int(a.__array_interface__["data"][0])


def _pack(weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A layer's weight ``(K, M)`` as the kernel reads it: panels of 8 outputs, ``(P, K, 8)``
    with ``P = ceil(M / 8)`` and zeros past ``M``; the bias padded to ``(8 P,)``."""
    k, m = weight.shape
    panels = -(-m // 8)
    padded = np.zeros((k, panels * 8), np.float32)
    padded[:, :m] = weight
    packed_bias = np.zeros(panels * 8, np.float32)
    packed_bias[:m] = bias
    return np.ascontiguousarray(padded.reshape(k, panels, 8).transpose(1, 0, 2)), packed_bias


class NativeMLP:
    """``Linear, Mish, ..., Mish, Linear`` on float32 rows, by the compiled kernel.

    Args:
        layers: ``[(weight (in, out), bias (out,))]`` per layer; each layer's ``out`` is
            the next one's ``in`` and the last has one output. Copied (packed as the kernel
            reads them) as float32.

    Raises:
        ConfigError: the kernel is unavailable (see :func:`available`), or the layers do
            not chain into one output.
    """

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]]) -> None:
        lib = load_kernel()
        if lib is None:
            raise ConfigError(
                f"the compiled reward kernel ({_MODULE}) is not available: not built (it needs "
                "a C compiler at install time) or this CPU lacks AVX2/FMA; use NumPy instead"
            )
        dims = [int(layers[0][0].shape[0])] if layers else []
        for i, (w, b) in enumerate(layers):
            if w.ndim != 2 or w.shape[0] != dims[-1] or b.shape != (w.shape[1],):
                raise ConfigError(
                    f"layer {i} has weight {w.shape} and bias {b.shape}; expected "
                    f"({dims[-1]}, out) and (out,)"
                )
            dims.append(int(w.shape[1]))
        if not layers or dims[-1] != 1:
            raise ConfigError(f"layer sizes {dims}; expected at least one layer and one output")
        self.in_dim = dims[0]
        self._packed = [_pack(w, b) for w, b in layers]  # kept alive for the kernel
        self._dims = np.asarray(dims, dtype=np.int32)
        self._weight_ptrs = (_PTR * len(layers))(*(_address(w) for w, _ in self._packed))
        self._bias_ptrs = (_PTR * len(layers))(*(_address(b) for _, b in self._packed))
        hidden = max([-(-d // 8) * 8 for d in dims[1:-1]], default=8)
        self._scratch = np.empty(2 * _BLOCK * hidden, dtype=np.float32)
        self._forward = lib.rr_mlp_forward
        self._fixed = (
            len(layers),
            _address(self._dims),
            self._weight_ptrs,
            self._bias_ptrs,
            _address(self._scratch),
        )
        self._io: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}

    def __reduce__(self) -> tuple[type[NativeMLP], tuple[list[tuple[np.ndarray, np.ndarray]]]]:
        # ctypes pointers cannot be pickled: rebuild from the layers, unpacked
        layers = [
            (w.transpose(1, 0, 2).reshape(w.shape[1], -1)[:, :m], b[:m])
            for (w, b), m in zip(self._packed, self._dims[1:], strict=True)
        ]
        return NativeMLP, (layers,)

    def _buffers(self, n: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Input ``(n, in)`` and output ``(n,)`` buffers for batch ``n``, with addresses."""
        io = self._io.get(n)
        if io is None:
            if len(self._io) > 8:
                self._io.clear()
            x, out = np.empty((n, self.in_dim), np.float32), np.empty(n, np.float32)
            io = self._io[n] = (x, out, _address(x), _address(out))
        return io

    def __call__(self, flat: np.ndarray) -> np.ndarray:
        """Outputs ``(N,)`` float32 of inputs ``(N, in)`` (any real dtype)."""
        if flat.ndim != 2 or flat.shape[1] != self.in_dim:
            raise ConfigError(f"inputs of shape {flat.shape}; expected (N, {self.in_dim})")
        n = len(flat)
        x, out, x_ptr, out_ptr = self._buffers(n)
        np.copyto(x, flat, casting="same_kind")
        layers, dims, weights, biases, scratch = self._fixed
        self._forward(x_ptr, n, layers, dims, weights, biases, scratch, out_ptr)
        return out.copy()
