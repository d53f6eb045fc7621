"""The compiled reward kernel equals a float64 reference, propagates NaN and refuses bad
layers; it is built wherever it can run."""

from __future__ import annotations

import itertools
import pickle
import platform
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rr_gym.errors import ConfigError
from rr_gym.wrappers import native
from rr_gym.wrappers.native import NativeMLP

needs_kernel = pytest.mark.skipif(
    not native.available(), reason="compiled kernel not built here, or no AVX2/FMA"
)


def _cpu_has_avx2_fma() -> bool:
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text().split() if cpuinfo.exists() else []
    return "avx2" in flags and "fma" in flags


def test_kernel_is_built_wherever_it_can_run() -> None:
    if not (
        sys.platform == "linux"
        and platform.machine() == "x86_64"
        and _cpu_has_avx2_fma()
        and shutil.which("cc")
    ):
        pytest.skip("not an x86-64 Linux machine with AVX2, FMA and a C compiler")
    assert native.available(), "pip install -e . should have built rr_gym.wrappers._mlp_kernel"


def _layers(dims: list[int], seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    gen = np.random.default_rng(seed)
    return [
        (
            (gen.normal(size=(a, b)) * 2 / np.sqrt(a)).astype(np.float32),
            gen.normal(size=b).astype(np.float32),
        )
        for a, b in itertools.pairwise(dims)
    ]


def _reference(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    h = torch.from_numpy(x).double()
    for i, (w, b) in enumerate(layers):
        h = h @ torch.from_numpy(w).double() + torch.from_numpy(b).double()
        if i < len(layers) - 1:
            h = F.mish(h)
    return h[:, 0].numpy()


@needs_kernel
@pytest.mark.parametrize("dims", [[6, 256, 256, 256, 1], [7, 13, 5, 1], [40, 17, 1], [3, 1]])
@pytest.mark.parametrize("rows", [1, 2, 3, 5, 8, 9, 17, 40])
def test_forward_equals_a_float64_reference(dims: list[int], rows: int) -> None:
    # every row-block size (1-8 rows), column tails (13, 5, 17 outputs) and one-layer nets
    layers = _layers(dims)
    x = (np.random.default_rng(rows).normal(size=(rows, dims[0])) * 5).astype(np.float32)
    got = NativeMLP(layers)(x)
    want = _reference(layers, x)
    assert got.shape == (rows,) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(want).max()))


@needs_kernel
def test_mish_is_exact_over_its_range_and_propagates_nan() -> None:
    identity = [(np.ones((1, 1), np.float32), np.zeros(1, np.float32))] * 2
    mlp = NativeMLP(identity)  # x -> mish(x)
    x = np.linspace(-120, 40, 20001, dtype=np.float32)
    want = F.mish(torch.from_numpy(x).double()).numpy()
    np.testing.assert_allclose(mlp(x[:, None]), want, rtol=1e-6, atol=1e-6)
    special = mlp(np.array([[np.nan], [np.inf], [-1e30], [1e30]], np.float32))
    assert np.isnan(special[0]) and special[1] == np.inf
    np.testing.assert_array_equal(special[2:], np.array([0.0, 1e30], np.float32))


@needs_kernel
def test_pickling_rebuilds_the_same_layers() -> None:
    layers = _layers([5, 13, 9, 1])
    mlp = NativeMLP(layers)
    clone = pickle.loads(pickle.dumps(mlp))
    x = np.random.default_rng(4).normal(size=(11, 5)).astype(np.float32)
    np.testing.assert_array_equal(clone(x), mlp(x))
    for (w, b), (w2, b2) in zip(layers, clone.__reduce__()[1][0], strict=True):
        np.testing.assert_array_equal(w2, w)
        np.testing.assert_array_equal(b2, b)


@needs_kernel
def test_bad_layers_and_inputs_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"layer 1 has weight \(4, 1\).*expected \(3, out\)"):
        NativeMLP(_layers([2, 3, 1])[:1] + _layers([4, 1]))
    with pytest.raises(ConfigError, match=r"layer sizes \[2, 3\]"):
        NativeMLP(_layers([2, 3]))
    with pytest.raises(ConfigError, match=r"inputs of shape \(4, 3\); expected \(N, 2\)"):
        NativeMLP(_layers([2, 3, 1]))(np.zeros((4, 3), np.float32))


@needs_kernel
def test_a_kernel_built_from_another_interface_is_not_used(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(native, "_ABI", 99)
    assert native.load_kernel.__wrapped__() is None  # the uncached loader
    assert "interface 1, expected 99" in caplog.text and "pip install -e ." in caplog.text


def test_an_unavailable_kernel_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(native, "load_kernel", lambda: None)
    assert not native.available()
    with pytest.raises(ConfigError, match=r"compiled reward kernel.*use NumPy"):
        NativeMLP(_layers([2, 3, 1]))
