"""Normalizer: fitting, the affine map on NumPy and torch, validation, exact JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rr_gym.errors import ConfigError, DataError
from rr_gym.normalizer import Normalizer


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.normal([1.0, -3.0, 10.0], [0.5, 2.0, 7.0], size=(200, 4, 3))


def test_gaussian_fit_gives_zero_mean_unit_std_over_leading_axes(data: np.ndarray) -> None:
    norm = Normalizer.fit(data)
    y = norm.normalize(data)
    assert y.shape == data.shape
    np.testing.assert_allclose(y.reshape(-1, 3).mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.reshape(-1, 3).std(0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(norm.shift, data.reshape(-1, 3).mean(0))


def test_minmax_fit_maps_range_to_unit_interval(data: np.ndarray) -> None:
    norm = Normalizer.fit(data, kind="minmax")
    y = norm.normalize(data).reshape(-1, 3)
    np.testing.assert_allclose(y.min(0), -1.0, atol=1e-12)
    np.testing.assert_allclose(y.max(0), 1.0, atol=1e-12)


def test_identity_changes_nothing(data: np.ndarray) -> None:
    for norm in (Normalizer.fit(data, kind="identity"), Normalizer.identity(3)):
        assert norm.kind == "identity"
        np.testing.assert_array_equal(norm.normalize(data), data)


@pytest.mark.parametrize("kind", ["gaussian", "minmax"])
def test_constant_dimension_gets_unit_scale(kind: str) -> None:
    x = np.stack([np.linspace(0, 1, 10), np.full(10, 5.0)], axis=1)
    norm = Normalizer.fit(x, kind=kind)  # type: ignore[arg-type]
    assert norm.scale[1] == 1.0
    y = norm.normalize(x)
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y[:, 1], 0.0)


def test_numpy_round_trip_and_dtypes(data: np.ndarray) -> None:
    norm = Normalizer.fit(data)
    x32 = data.astype(np.float32)
    y32 = norm.normalize(x32)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(norm.unnormalize(y32), x32, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(norm.unnormalize(norm.normalize(data)), data, rtol=1e-12)
    ints = np.arange(6).reshape(2, 3)
    assert norm.normalize(ints).dtype == np.float64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_matches_numpy_and_keeps_dtype(data: np.ndarray, dtype: torch.dtype) -> None:
    norm = Normalizer.fit(data)
    x = torch.as_tensor(data, dtype=dtype)
    y = norm.normalize(x)
    assert isinstance(y, torch.Tensor) and y.dtype == dtype
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(y.numpy(), norm.normalize(data), rtol=tol, atol=tol)
    torch.testing.assert_close(norm.unnormalize(y), x)


def test_torch_normalize_is_differentiable(data: np.ndarray) -> None:
    norm = Normalizer.fit(data)
    x = torch.zeros(2, 3, requires_grad=True)
    norm.normalize(x).sum().backward()
    assert x.grad is not None
    np.testing.assert_allclose(x.grad[0].numpy(), 1.0 / norm.scale, rtol=1e-6)


def test_wrong_last_dimension_names_both_dims(data: np.ndarray) -> None:
    norm = Normalizer.fit(data)
    with pytest.raises(DataError, match=r"last dimension 2 .* dim 3"):
        norm.normalize(np.zeros((5, 2)))
    with pytest.raises(DataError, match="last dimension 4"):
        norm.unnormalize(torch.zeros(5, 4))


def test_fit_rejects_non_finite_and_empty_data() -> None:
    x = np.zeros((10, 2))
    x[3, 1] = np.inf
    with pytest.raises(DataError, match=r"1 non-finite .*\(3, 1\)"):
        Normalizer.fit(x)
    with pytest.raises(DataError, match="empty"):
        Normalizer.fit(np.zeros((0, 3)))


@pytest.mark.parametrize("kind", ["zscore", "", None])
def test_bad_kind_is_a_config_error(kind: object) -> None:
    with pytest.raises(ConfigError, match="normalizer kind"):
        Normalizer.fit(np.zeros((3, 2)), kind=kind)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="normalizer kind"):
        Normalizer(np.zeros(2), np.ones(2), kind)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shift", "scale"),
    [
        ([0.0, 0.0], [1.0, 0.0]),
        ([0.0, 0.0], [1.0, -1.0]),
        ([0.0, np.nan], [1.0, 1.0]),
        ([0.0, 0.0], [1.0, np.inf]),
        ([0.0, 0.0, 0.0], [1.0, 1.0]),
    ],
)
def test_invalid_parameters_are_config_errors(shift: list, scale: list) -> None:
    with pytest.raises(ConfigError):
        Normalizer(np.array(shift), np.array(scale), "gaussian")


@pytest.mark.parametrize("kind", ["gaussian", "minmax", "identity"])
def test_json_round_trip_is_exact(data: np.ndarray, kind: str) -> None:
    norm = Normalizer.fit(data * np.pi, kind=kind)  # type: ignore[arg-type]
    back = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert back == norm
    assert hash(back) == hash(norm)
    np.testing.assert_array_equal(back.shift, norm.shift)
    np.testing.assert_array_equal(back.scale, norm.scale)


def test_from_dict_rejects_missing_keys() -> None:
    with pytest.raises(ConfigError, match="not a Normalizer dict"):
        Normalizer.from_dict({"kind": "gaussian", "shift": [0.0]})


def test_equality() -> None:
    a = Normalizer(np.array([0.0, 1.0]), np.array([1.0, 2.0]), "gaussian")
    assert a == Normalizer(np.array([0.0, 1.0]), np.array([1.0, 2.0]), "gaussian")
    assert a != Normalizer(np.array([0.0, 1.5]), np.array([1.0, 2.0]), "gaussian")
    assert a != Normalizer(np.array([0.0, 1.0]), np.array([1.0, 2.5]), "gaussian")
    assert a != Normalizer(np.array([0.0, 1.0]), np.array([1.0, 2.0]), "minmax")
    assert a != Normalizer.identity(3)
    assert a != "not a normalizer"
    assert repr(a) == "Normalizer(kind='gaussian', dim=2)"
