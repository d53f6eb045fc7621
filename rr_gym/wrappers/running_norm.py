"""Running normalisation of a stream of learned rewards, shared by the env wrappers."""

from __future__ import annotations

import numpy as np

from rr_gym.errors import ConfigError
from rr_gym.utils.moments import merge_moments

__all__ = ["RunningRewardNorm"]


class RunningRewardNorm:
    """Running mean and variance of rewards, and the rewards rescaled by them.

    Statistics are exact over every reward seen (Chan et al.'s parallel update in float64),
    so a batch of ``N`` rewards updates them exactly as ``N`` single rewards would.

    ``normalize`` divides by the running standard deviation and, with ``center=True``,
    first subtracts the running mean. Centring is off by default: shifting a reward by a
    constant changes the optimal policy of any task whose episodes can terminate (it turns
    a survival bonus into a penalty), while rescaling does not.

    Args:
        center: subtract the running mean.
        epsilon: added to the variance before the square root.
        clip: clip normalised rewards to ``[-clip, clip]`` (``None``: no clipping).

    Attributes:
        count: rewards seen.
        mean: their mean.
        var: their (population) variance.
        frozen: when true, :meth:`update` leaves the statistics unchanged (evaluation).

    Example:
        >>> norm = RunningRewardNorm()
        >>> norm.update(np.array([1.0, 3.0]))
        >>> float(norm.mean), float(norm.var)
        (2.0, 1.0)
        >>> norm.normalize(np.array([2.0, 4.0])).tolist()
        [2.0, 4.0]
    """

    def __init__(
        self, *, center: bool = False, epsilon: float = 1e-8, clip: float | None = 10.0
    ) -> None:
        if not epsilon > 0:
            raise ConfigError(f"norm epsilon={epsilon}; expected a positive number")
        if clip is not None and not clip > 0:
            raise ConfigError(f"norm clip={clip}; expected a positive number or None")
        self.center = bool(center)
        self.epsilon = float(epsilon)
        self.clip = None if clip is None else float(clip)
        self.count = 0
        self.mean = 0.0
        self.var = 1.0
        self.frozen = False

    def update(self, rewards: np.ndarray) -> None:
        """Add a batch of rewards ``(N,)`` to the statistics (no-op when frozen or empty)."""
        if self.frozen:
            return
        batch = np.asarray(rewards, dtype=np.float64).reshape(-1)
        n = batch.shape[0]
        if n == 0:
            return
        count, mean, var = merge_moments(
            self.count, self.mean, self.var, n, float(batch.mean()), float(batch.var())
        )
        self.count, self.mean, self.var = int(count), float(mean), float(var)

    @property
    def std(self) -> float:
        """``sqrt(var + epsilon)``."""
        return float(np.sqrt(self.var + self.epsilon))

    def normalize(self, rewards: np.ndarray) -> np.ndarray:
        """Rewards ``(N,)`` rescaled by the current statistics (float32 ``(N,)``)."""
        out = np.asarray(rewards, dtype=np.float64)
        if self.center:
            out = out - self.mean
        out = out / self.std
        if self.clip is not None:
            out = np.clip(out, -self.clip, self.clip)
        return out.astype(np.float32)

    def state_dict(self) -> dict[str, float | int | bool]:
        """JSON-friendly statistics (see :meth:`load_state_dict`)."""
        return {"count": self.count, "mean": self.mean, "var": self.var, "frozen": self.frozen}

    def load_state_dict(self, state: dict[str, float | int | bool]) -> None:
        """Restore statistics written by :meth:`state_dict`."""
        try:
            self.count = int(state["count"])
            self.mean = float(state["mean"])
            self.var = float(state["var"])
            self.frozen = bool(state.get("frozen", False))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a RunningRewardNorm state: {state!r}") from exc

    def __repr__(self) -> str:
        return (
            f"RunningRewardNorm(count={self.count}, mean={self.mean:.4g}, std={self.std:.4g}, "
            f"center={self.center}, clip={self.clip})"
        )
