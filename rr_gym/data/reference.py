"""D4RL reference scores used to normalise returns: ``100 * (R - random) / (expert - random)``.

Example:
    >>> REFERENCE_SCORES["hopper"]
    ReferenceScore(random=-20.27, expert=3234.3)
    >>> round(normalized_score("hopper", 3234.3), 6)
    100.0
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from rr_gym.errors import ConfigError

__all__ = ["REFERENCE_SCORES", "ReferenceScore", "normalized_score", "reference_score"]


class ReferenceScore(NamedTuple):
    """Mean return of a random and of an expert policy (D4RL's reference scores)."""

    random: float
    expert: float

    def normalize(self, returns: float | np.ndarray) -> np.ndarray:
        """``100 * (returns - random) / (expert - random)``, float64, the shape of ``returns``."""
        return 100.0 * (np.asarray(returns, np.float64) - self.random) / (self.expert - self.random)


#: D4RL reference scores, keyed by locomotion env name or maze name. Maze scores are for
#: the sparse reward summed over an evaluation episode with a fixed goal (maze2d-*).
#: The open maze has no D4RL reference and is absent.
REFERENCE_SCORES: dict[str, ReferenceScore] = {
    "hopper": ReferenceScore(-20.27, 3234.3),
    "halfcheetah": ReferenceScore(-280.18, 12135.0),
    "walker2d": ReferenceScore(1.63, 4592.3),
    "umaze": ReferenceScore(23.85, 161.86),
    "medium": ReferenceScore(13.13, 277.39),
    "large": ReferenceScore(6.7, 273.99),
}


def reference_score(name: str) -> ReferenceScore:
    """The reference score of ``name`` (env name like ``"hopper"`` or maze like ``"umaze"``).

    Raises:
        ConfigError: no reference score for ``name`` (lists the known names).
    """
    try:
        return REFERENCE_SCORES[name]
    except KeyError:
        raise ConfigError(
            f"no reference score for {name!r}; known: {sorted(REFERENCE_SCORES)}"
        ) from None


def normalized_score(name: str, returns: float | np.ndarray) -> float | np.ndarray:
    """D4RL-normalised score(s) in percent: 0 = random policy, 100 = expert.

    Args:
        name: key of :data:`REFERENCE_SCORES`.
        returns: a return or an array of returns (any shape).

    Returns:
        Same shape as ``returns``.
    """
    scaled = reference_score(name).normalize(returns)
    return float(scaled) if np.ndim(scaled) == 0 else scaled
