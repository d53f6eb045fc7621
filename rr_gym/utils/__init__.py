"""Small utilities shared across rr_gym (devices, atomic I/O, validation)."""

from rr_gym.utils.device import resolve_device
from rr_gym.utils.io import (
    atomic_directory,
    atomic_write_bytes,
    atomic_write_text,
    remove_stale_temporaries,
)
from rr_gym.utils.validation import check_finite

__all__ = [
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_finite",
    "remove_stale_temporaries",
    "resolve_device",
]
