"""Splitting a file into two parts that two operations workers stage at once.

A part boundary must fall between records. JSONL: after any newline. Parquet: between row
groups. CSV: after a newline outside quotes, guessed by counting quote characters (a newline
with an even number of quotes before it is outside quotes in a well-formed file). A quote
inside an unquoted field (`5" screen`, which csv reads as text) or an escape character can
fool that count, so the guess is checked: the first part's reader gets a sentinel line after
its last byte and must read it back as a record of its own (see CSVReader); if not, the
import reads the file again in one pass. A JSON array, a file in an encoding whose bytes may
hide a newline (UTF-16), a CSV read with backslash escapes (`\\"` does not open or close a
field) or a file without a usable boundary stays whole.
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path
from typing import Any

CHUNK = 1 << 20
# Encodings where the bytes for a newline and a quote never occur inside another character.
_SPLITTABLE = ("utf-8", "utf-8-sig", "ascii", "iso8859-", "cp125", "latin-1")


class RangeReader(io.RawIOBase):
    """Bytes [start, end) of a file; counts what it hands out (progress of text files)."""

    def __init__(self, path: Path, start: int = 0, end: int | None = None) -> None:
        self.raw = open(path, "rb", buffering=0)
        if start:
            self.raw.seek(start)
        self.left = None if end is None else end - start
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        view = memoryview(b)
        if self.left is not None:
            if self.left <= 0:
                return 0
            view = view[: self.left]
        n = self.raw.readinto(view) or 0
        self.count += n
        if self.left is not None:
            self.left -= n
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def splittable_encoding(encoding: str) -> bool:
    name = codecs.lookup(encoding).name
    return name.startswith(_SPLITTABLE)


def _next_newline(path: Path, pos: int, size: int, quote: bytes | None, parity: int) -> int | None:
    """The offset just after the first newline at or past `pos` with even quote parity."""
    with open(path, "rb") as handle:
        handle.seek(pos)
        while pos < size:
            chunk = handle.read(CHUNK)
            if not chunk:
                return None
            at = 0
            while True:
                nl = chunk.find(b"\n", at)
                if nl < 0:
                    if quote is not None:
                        parity ^= chunk.count(quote, at) & 1
                    break
                if quote is not None:
                    parity ^= chunk.count(quote, at, nl) & 1
                if not parity:
                    end = pos + nl + 1
                    return end if end < size else None
                at = nl + 1
            pos += len(chunk)
    return None


def _quote_parity(path: Path, end: int, quote: bytes) -> int:
    parity = 0
    with open(path, "rb") as handle:
        left = end
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                break
            parity ^= chunk.count(quote) & 1
            left -= len(chunk)
    return parity


def text_split(path: Path, fmt: str, encoding: str, dialect: Any = None) -> int | None:
    """A byte offset near the middle that starts a record, or None to keep the file whole."""
    if not splittable_encoding(encoding):
        return None
    size = path.stat().st_size
    middle = size // 2
    if fmt == "jsonl":
        return _next_newline(path, middle, size, None, 0)
    if getattr(dialect, "escapechar", None):
        # An escaped quote (`\"`) flips the quote count without opening or closing a field.
        return None
    quotechar = getattr(dialect, "quotechar", '"') or ""
    delimiter = getattr(dialect, "delimiter", ",")
    if quotechar.isalnum() or delimiter.isalnum():
        # The first part's sentinel line (hex digits) would not read back as one field.
        return None
    quote = quotechar.encode(encoding) if quotechar else None
    if quote is not None and len(quote) != 1:
        return None
    parity = _quote_parity(path, middle, quote) if quote is not None else 0
    return _next_newline(path, middle, size, quote, parity)


def parquet_split(path: Path) -> int | None:
    """The first row group of the second part, or None when there is only one group."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    groups = meta.num_row_groups
    if groups < 2:
        return None
    half = meta.num_rows / 2
    seen = 0
    for i in range(groups - 1):
        seen += meta.row_group(i).num_rows
        if seen >= half:
            return i + 1
    return groups - 1
