"""Transition layouts: which named fields make up one transition vector, in which order."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rr_gym.errors import ConfigError

__all__ = ["TransitionLayout"]


@dataclass(frozen=True)
class TransitionLayout:
    """The named blocks of a transition vector of size ``dim``.

    A trajectory is a tensor of shape ``(batch, horizon, dim)``; its last axis is the
    concatenation of ``fields`` in order. Conventional names are ``"observation"``,
    ``"action"`` and ``"next_observation"``; generic data may use any names (``"x"``).

    Args:
        fields: ``(name, size)`` pairs in the order they are concatenated.
        observation_key: for dict observation spaces (e.g. PointMaze), the key of the entry
            that fills the ``"observation"`` field; ``None`` for flat observations.

    Example:
        >>> layout = TransitionLayout.from_sizes(observation=4, action=2)
        >>> layout.dim, layout.slice("action")
        (6, slice(4, 6, None))
    """

    fields: tuple[tuple[str, int], ...]
    observation_key: str | None = None
    _offsets: dict[str, slice] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [name for name, _ in self.fields]
        if not self.fields:
            raise ConfigError("a TransitionLayout needs at least one field, got none")
        if len(set(names)) != len(names):
            raise ConfigError(f"field names must be unique, got {names}")
        offsets: dict[str, slice] = {}
        start = 0
        for name, size in self.fields:
            if not isinstance(size, int) or size <= 0:
                raise ConfigError(f"field {name!r} has size {size!r}; expected a positive int")
            offsets[name] = slice(start, start + size)
            start += size
        object.__setattr__(self, "fields", tuple((str(n), int(s)) for n, s in self.fields))
        object.__setattr__(self, "_offsets", offsets)

    @classmethod
    def from_sizes(cls, observation_key: str | None = None, **sizes: int) -> TransitionLayout:
        """Build a layout from keyword sizes, in keyword order."""
        return cls(fields=tuple(sizes.items()), observation_key=observation_key)

    @classmethod
    def flat(cls, dim: int, name: str = "x") -> TransitionLayout:
        """A layout with a single field of size ``dim`` (generic arrays)."""
        return cls(fields=((name, dim),))

    @property
    def dim(self) -> int:
        """Size of one transition vector."""
        return sum(size for _, size in self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        """Field names in order."""
        return tuple(name for name, _ in self.fields)

    def __contains__(self, name: object) -> bool:
        return name in self._offsets

    def slice(self, name: str) -> slice:
        """The slice of the last axis that holds field ``name``."""
        try:
            return self._offsets[name]
        except KeyError:
            raise ConfigError(
                f"layout has no field {name!r}; its fields are {list(self.names)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (see :meth:`from_dict`)."""
        return {"fields": [[n, s] for n, s in self.fields], "observation_key": self.observation_key}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TransitionLayout:
        """Rebuild a layout written by :meth:`to_dict`."""
        try:
            fields = tuple((str(n), int(s)) for n, s in data["fields"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a TransitionLayout dict: {data!r}") from exc
        return cls(fields=fields, observation_key=data.get("observation_key"))

    def __str__(self) -> str:
        inner = ", ".join(f"{n}:{s}" for n, s in self.fields)
        key = f", observation_key={self.observation_key!r}" if self.observation_key else ""
        return f"TransitionLayout({inner}{key})"
