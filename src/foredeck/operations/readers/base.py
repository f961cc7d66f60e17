"""What every reader yields: rows with their numbers in batches, and the row errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RowError:
    row: int
    reason: str


@dataclass
class Batch:
    """Rows with their 1-based row numbers (CSV: data rows after the header; JSONL: lines)."""

    rows: list[tuple[int, Any]]
    errors: list[RowError] = field(default_factory=list)
    bytes_read: int = 0


class Reader:
    """One opened source: its columns, its size, and its rows in batches.

    A reader of one part of a file (see split.py) numbers its rows from 1 within the part;
    `last_row` (the number of the last row it read) gives the next part its offset."""

    format: str
    columns: list[str]
    total_rows: int | None = None
    total_bytes: int | None = None
    last_row: int = 0
    encoding: str | None = None
    # False while a part that should end on a record boundary has not been seen to.
    split_ok: bool = True

    def batches(self, size: int) -> Iterator[Batch]:
        raise NotImplementedError

    def close(self) -> None:
        return None
