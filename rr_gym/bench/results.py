"""``results.csv``: one row per (suite, pair, method, seed, metric), written atomically.

Every append rewrites the whole (small) file through a temporary file and ``os.replace``,
under an exclusive file lock, so a reader never sees a half-written row and concurrent
jobs of a sweep can share one file. A row whose key (suite, pair, method, seed, metric)
is already present replaces the old one: rerunning a suite updates its rows instead of
duplicating them.

Example:
    >>> import tempfile, pathlib
    >>> table = ResultsTable(pathlib.Path(tempfile.mkdtemp()) / "results.csv")
    >>> table.append([ResultRow("smoke", "umaze-goal1", "relative_reward", 0, "epic", 0.3, 1.5)])
    >>> table.append([ResultRow("smoke", "umaze-goal1", "relative_reward", 0, "epic", 0.2, 1.0)])
    >>> [(r.metric, r.value) for r in table.read()]
    [('epic', 0.2)]
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from rr_gym.errors import DataError
from rr_gym.utils.io import atomic_write_text

__all__ = ["COLUMNS", "ResultRow", "ResultsTable"]


@dataclass(frozen=True)
class ResultRow:
    """One measured number.

    Attributes:
        suite: suite name (``smoke``, ``default``, ``paper``).
        pair: dataset pair, e.g. ``umaze-goal1`` or ``hopper-medium-expert``.
        method: reward method (``relative_reward``, ``gail``...) or a steering condition.
        seed: training seed.
        metric: metric name (``pearson``, ``epic``, ``normalized_return/ppo``...).
        value: the number (NaN when undefined).
        wall_time_s: seconds of the work that produced it.
    """

    suite: str
    pair: str
    method: str
    seed: int
    metric: str
    value: float
    wall_time_s: float

    @property
    def key(self) -> tuple[str, str, str, int, str]:
        """What identifies a row: everything but the value and the time."""
        return (self.suite, self.pair, self.method, self.seed, self.metric)


#: Column names of results.csv, in order.
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ResultRow))


def _format(value: float) -> str:
    return "nan" if math.isnan(value) else repr(float(value))


class ResultsTable:
    """The results CSV at ``path`` (created with its header on the first append).

    Args:
        path: the CSV file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(f".{self.path.name}.lock"), "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def read(self) -> list[ResultRow]:
        """Every row, in file order (empty when the file does not exist).

        Raises:
            DataError: a header other than :data:`COLUMNS`.
        """
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return []
            if tuple(header) != COLUMNS:
                raise DataError(f"{self.path} has columns {header}; expected {list(COLUMNS)}")
            return [
                ResultRow(s, p, m, int(seed), metric, float(v), float(w))
                for s, p, m, seed, metric, v, w in reader
            ]

    def append(self, rows: Iterable[ResultRow]) -> None:
        """Add ``rows``, replacing any with the same key, in one atomic rewrite."""
        new = list(rows)
        if not new:
            return
        with self._locked():
            replaced = {row.key for row in new}
            kept = [row for row in self.read() if row.key not in replaced]
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\n")
            writer.writerow(COLUMNS)
            for row in [*kept, *new]:
                values = astuple(row)
                writer.writerow([*values[:5], _format(row.value), f"{row.wall_time_s:.3f}"])
            atomic_write_text(self.path, buffer.getvalue())
