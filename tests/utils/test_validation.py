"""check_finite names the count and first index of non-finite values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rr_gym.errors import DataError
from rr_gym.utils.validation import check_finite


def test_finite_input_passes() -> None:
    check_finite(np.zeros((3, 2)), "x")
    check_finite(torch.ones(4), "x")
    check_finite(np.array(1.0), "x")


def test_numpy_nan_and_inf_are_counted_with_first_index() -> None:
    x = np.zeros((4, 3, 2))
    x[1, 2, 0] = np.nan
    x[3, 0, 1] = -np.inf
    with pytest.raises(DataError, match=r"'?my data'? has 2 non-finite .* index \(1, 2, 0\)"):
        check_finite(x, "my data")


def test_torch_tensor_is_checked() -> None:
    x = torch.zeros(5)
    x[4] = float("inf")
    with pytest.raises(DataError, match=r"1 non-finite value\(s\).*\(4,\)"):
        check_finite(x, "t")


def test_data_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        check_finite([float("nan")], "list")  # type: ignore[arg-type]
