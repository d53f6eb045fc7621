"""Input validation helpers that raise typed errors naming the offending value."""

from __future__ import annotations

import numpy as np
import torch

from rr_gym.errors import DataError

__all__ = ["check_finite"]


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
