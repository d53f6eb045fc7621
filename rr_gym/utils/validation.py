"""Input validation helpers that raise typed errors naming the offending value."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
import torch

from rr_gym.errors import ConfigError, DataError

__all__ = ["check_finite", "check_int", "check_number"]


def check_int(value: Any, name: str, *, minimum: int | None = None, hint: str = "") -> int:
    """``value`` as an ``int``; refuses bools, floats and strings, and ints below ``minimum``.

    NumPy integers (``np.int64(4)``) are accepted, as Python ints are.

    Raises:
        ConfigError: naming ``name``, the value and what is expected (plus ``hint``).

    Example:
        >>> check_int(np.int64(4), "horizon", minimum=1)
        4
        >>> check_int(True, "horizon", minimum=1)
        Traceback (most recent call last):
        ...
        rr_gym.errors.ConfigError: horizon=True (bool); expected an int >= 1
    """
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)
    if not is_int or (minimum is not None and value < minimum):
        expected = "an int" + ("" if minimum is None else f" >= {minimum}")
        kind = "" if is_int else f" ({type(value).__name__})"
        raise ConfigError(f"{name}={value!r}{kind}; expected {expected}{hint}")
    return int(value)


def check_number(
    value: Any,
    name: str,
    *,
    positive: bool = False,
    minimum: float | None = None,
    hint: str = "",
) -> float:
    """``value`` as a finite ``float``; refuses NaN, inf, bools and non-numbers.

    Args:
        value: the value to check.
        name: its name in the message.
        positive: require ``value > 0``.
        minimum: require ``value >= minimum``.
        hint: appended to the message (what to do).

    Raises:
        ConfigError: naming ``name``, the value and what is expected.

    Example:
        >>> check_number(float("nan"), "lr", positive=True)
        Traceback (most recent call last):
        ...
        rr_gym.errors.ConfigError: lr=nan; expected a finite number > 0
    """
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    ok = is_real and math.isfinite(value)
    ok = ok and not (positive and value <= 0) and not (minimum is not None and value < minimum)
    if not ok:
        bound = " > 0" if positive else ("" if minimum is None else f" >= {minimum}")
        kind = "" if is_real else f" ({type(value).__name__})"
        raise ConfigError(f"{name}={value!r}{kind}; expected a finite number{bound}{hint}")
    return float(value)


def check_finite(x: np.ndarray | torch.Tensor, name: str) -> None:
    """Raise :class:`~rr_gym.errors.DataError` if ``x`` holds NaN or inf.

    The message gives the count and the first offending index so the user can find it.
    """
    if isinstance(x, torch.Tensor):
        bad = (~torch.isfinite(x)).cpu().numpy()
    else:
        bad = ~np.isfinite(np.asarray(x))
    n_bad = int(bad.sum())
    if n_bad:
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{name} has {n_bad} non-finite value(s) (NaN or inf), the first at index {first}; "
            "expected finite numbers: drop or repair those entries"
        )
