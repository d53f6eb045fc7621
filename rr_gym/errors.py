"""Typed errors raised by rr_gym.

Every error names the offending value, what was expected, and, where there is one, what to
do about it. All inherit from :class:`RRGymError`; most also inherit from the built-in
exception a caller would naturally catch (``ValueError``, ``FileNotFoundError``).
"""

from __future__ import annotations

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DataError",
    "DatasetNotFoundError",
    "IncompatibleModelsError",
    "RRGymError",
    "TargetExistsError",
    "TrainingDivergedError",
    "WeightsNotFoundError",
]


class RRGymError(Exception):
    """Base class of every error rr_gym raises on purpose."""


class ConfigError(RRGymError, ValueError):
    """An argument or option has a value outside what is supported."""


class DataError(RRGymError, ValueError):
    """Input data has the wrong shape, rank or contents (NaN/inf, empty, too short)."""


class DatasetNotFoundError(RRGymError, FileNotFoundError):
    """A dataset id is neither available locally nor downloadable."""


class IncompatibleModelsError(RRGymError, ValueError):
    """Two models (or a model and an environment) cannot be combined.

    Raised e.g. when a base and an expert diffusion model have different noise schedules,
    horizons, transition layouts or normalisers, or when a reward does not fit an env.
    """


class CheckpointError(RRGymError):
    """A checkpoint is missing, truncated, tampered with, or of an unknown format version."""


class TrainingDivergedError(RRGymError, FloatingPointError):
    """A training loss became NaN or infinite (raised before a checkpoint would store it)."""


class TargetExistsError(RRGymError, FileExistsError):
    """A write would replace a file or folder that rr_gym did not write (it is refused)."""


class WeightsNotFoundError(RRGymError, FileNotFoundError):
    """Pretrained weights are not in a local folder (rr_gym never downloads weights)."""
