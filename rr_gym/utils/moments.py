"""The parallel update of running mean and variance (Chan et al.), for NumPy and torch.

Example:
    >>> import numpy as np
    >>> a, b = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0])
    >>> count, mean, var = merge_moments(3, a.mean(), a.var(), 2, b.mean(), b.var())
    >>> both = np.concatenate([a, b])
    >>> count, bool(np.isclose(mean, both.mean())), bool(np.isclose(var, both.var()))
    (5, True, True)
"""

from __future__ import annotations

from typing import TypeVar

__all__ = ["merge_moments"]

#: A float, a NumPy array or a torch tensor (one value per feature).
Moment = TypeVar("Moment")


def merge_moments(
    count: float, mean: Moment, var: Moment, n: float, batch_mean: Moment, batch_var: Moment
) -> tuple[float, Moment, Moment]:
    """The count, mean and (population) variance of ``count`` samples with ``mean``/``var``
    and ``n`` more with ``batch_mean``/``batch_var``; ``count = 0`` gives the batch's own."""
    total = count + n
    delta = batch_mean - mean  # type: ignore[operator]
    merged_mean = mean + delta * (n / total)  # type: ignore[operator]
    m2 = var * count + batch_var * n + delta * delta * (count * n / total)  # type: ignore[operator]
    return total, merged_mean, m2 / total
