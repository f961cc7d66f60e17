"""Streaming readers for CSV, JSON arrays, JSONL and Parquet: rows in batches, bounded memory."""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foredeck.kit import safejson
from foredeck.operations.detect import ReadError as ReadError
from foredeck.operations.detect import (
    check_decodes,
    detect_encoding,
    detect_format,
    sniff_dialect,
)
from foredeck.operations.mapping import bad_chars
from foredeck.operations.split import RangeReader

FORMATS = ("csv", "json", "jsonl", "parquet")
# Keys of the first records of a JSON file make its "header".
HEADER_PROBE_RECORDS = 200
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


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


class CSVReader(Reader):
    format = "csv"

    def __init__(
        self,
        path: Path,
        *,
        encoding: str,
        delimiter: str | None = None,
        part: tuple[int, int | None] | None = None,
    ) -> None:
        self.total_bytes = path.stat().st_size
        start, end = part or (0, None)
        self.encoding = encoding
        dialect: Any = csv.excel
        if delimiter:
            dialect = type("Given", (csv.excel,), {"delimiter": delimiter})
        elif path.suffix.lower() == ".tsv":
            dialect = csv.excel_tab
        else:
            with open(path, encoding=encoding, newline="", errors="replace") as handle:
                sample = handle.read(64 * 1024)
            whole = len(sample) < 64 * 1024
            # Sniff whole lines only: a cut line can fool the delimiter guess.
            if not whole and "\n" in sample:
                sample = sample[: sample.rfind("\n")]
            dialect = sniff_dialect(sample, whole=whole)
        self.dialect = dialect
        self._sentinel: list[str] | None = None
        self._open(path, encoding, 0, None if start else end)
        try:
            header = next(self._reader)
        except StopIteration:
            raise ReadError("the file is empty") from None
        except UnicodeError as exc:
            reason = exc.reason if isinstance(exc, UnicodeDecodeError) else str(exc)
            raise ReadError(f"the file is not valid {encoding}: {reason}") from exc
        self.columns = [h.strip() for h in header]
        if not any(self.columns):
            raise ReadError("the first row (the header) is empty")
        if len(set(self.columns)) != len(self.columns):
            raise ReadError("the header names a column twice")
        if any("\x00" in c for c in self.columns):
            raise ReadError("the header contains a NUL character (U+0000)")
        if start:
            self._text.close()
            self._open(path, encoding, start, end)

    def _open(self, path: Path, encoding: str, start: int, end: int | None) -> None:
        self._counter = RangeReader(path, start, end)
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._counter, 1 << 20), encoding=encoding, newline=""
        )
        lines: Iterator[str] = self._text
        if end is not None:
            # Read back as a record of its own only if the part ends between records.
            self._sentinel = [uuid.uuid4().hex]
            self.split_ok = False
            lines = itertools.chain(self._text, [self._sentinel[0] + "\n"])
        self._reader = csv.reader(lines, self.dialect)

    def batches(self, size: int) -> Iterator[Batch]:
        width = len(self.columns)
        row_no = 0
        reader = self._reader
        sentinel = self._sentinel
        one = width == 1 and sentinel is not None
        while True:
            rows: list[tuple[int, Any]] = []
            errors: list[RowError] = []
            try:
                for values in reader:
                    if len(values) != width or (one and values == sentinel):
                        if values == sentinel:
                            self.split_ok = True
                            break
                        row_no += 1
                        if not values or values == [""]:
                            continue
                        errors.append(
                            RowError(row_no, f"has {len(values)} fields, the header has {width}")
                        )
                    else:
                        row_no += 1
                        rows.append((row_no, values))
                    if len(rows) + len(errors) >= size:
                        break
            except UnicodeError as exc:
                raise ReadError(
                    f"the file is not valid {self._text.encoding} near row {row_no + 1}; "
                    "give the right encoding"
                ) from exc
            except csv.Error as exc:
                raise ReadError(f"CSV error near row {row_no + 1}: {exc}") from exc
            self.last_row = row_no
            if not rows and not errors:
                return
            yield Batch(rows, errors, self._counter.count)

    def close(self) -> None:
        self._text.close()


class JSONLReader(Reader):
    format = "jsonl"

    def __init__(
        self, path: Path, *, encoding: str, part: tuple[int, int | None] | None = None
    ) -> None:
        self.total_bytes = path.stat().st_size
        self._path = path
        self._encoding = self.encoding = encoding
        self.columns = _probe_keys(self._records(limit=HEADER_PROBE_RECORDS))
        self._counter: RangeReader | None = None
        self._part = part or (0, None)

    def _records(
        self, limit: int | None = None, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, Any, str | None]]:
        counter = RangeReader(self._path, start, end)
        self._counter = counter
        text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 20), encoding=self._encoding)
        try:
            for line_no, line in enumerate(text, start=1):
                if limit is not None and line_no > limit:
                    return
                self.last_row = line_no
                stripped = line.strip()
                if not stripped:
                    continue
                try:
                    value = safejson.loads(stripped)
                except ValueError as exc:
                    yield line_no, None, safejson.parse_error(exc)
                    continue
                if not isinstance(value, dict):
                    yield line_no, None, "is not a JSON object"
                    continue
                if problem := _bad_key(value):
                    yield line_no, None, problem
                    continue
                yield line_no, value, None
        except UnicodeError as exc:
            raise ReadError(
                f"the file is not valid {self._encoding}; give the right encoding"
            ) from exc
        finally:
            text.close()

    def batches(self, size: int) -> Iterator[Batch]:
        yield from _batched(
            self._records(None, *self._part),
            size,
            lambda: self._counter.count if self._counter else 0,
        )


class JSONArrayReader(Reader):
    """A top-level JSON array, decoded one element at a time so a huge file never loads whole."""

    format = "json"
    CHUNK = 1 << 20
    MAX_ELEMENT = 64 << 20

    def __init__(self, path: Path, *, encoding: str) -> None:
        self.total_bytes = path.stat().st_size
        self._path = path
        self._encoding = encoding
        self._pos = 0
        self.columns = _probe_keys(self._records(limit=HEADER_PROBE_RECORDS))

    def _records(self, limit: int | None = None) -> Iterator[tuple[int, Any, str | None]]:
        with open(self._path, encoding=self._encoding) as text:
            buf = ""
            i = 0
            eof = False
            started = False
            n = 0

            def fill() -> bool:
                nonlocal buf, i, eof
                chunk = text.read(self.CHUNK)
                self._pos = text.buffer.tell()  # type: ignore[attr-defined]
                if not chunk:
                    eof = True
                    return False
                buf = buf[i:] + chunk
                i = 0
                return True

            try:
                while True:
                    while i < len(buf) and buf[i] in " \t\r\n\ufeff":
                        i += 1
                    if i >= len(buf):
                        if eof or not fill():
                            break
                        continue
                    ch = buf[i]
                    if not started:
                        if ch != "[":
                            raise ReadError("a JSON file must hold an array of objects")
                        started = True
                        i += 1
                        continue
                    if ch == "]":
                        return
                    if ch == ",":
                        i += 1
                        continue
                    problem = None
                    try:
                        value, end = safejson.raw_decode(buf, i)
                    except json.JSONDecodeError as exc:
                        if not eof and len(buf) - i < self.MAX_ELEMENT and fill():
                            continue
                        raise ReadError(
                            f"invalid JSON in element {n + 1}: {exc.msg}; "
                            "the rest of the file cannot be read"
                        ) from exc
                    except safejson.JSONLimitError as exc:
                        # Past a limit but well formed: skip just this element if its end
                        # can be found (not when it nests too deep even to skip).
                        try:
                            value, end, problem = None, safejson.value_end(buf, i), str(exc)
                        except json.JSONDecodeError:
                            if not eof and len(buf) - i < self.MAX_ELEMENT and fill():
                                continue
                            raise ReadError(
                                f"element {n + 1}: {exc}; the rest of the file cannot be read"
                            ) from None
                        except safejson.JSONLimitError:
                            raise ReadError(
                                f"element {n + 1}: {exc}; the rest of the file cannot be read"
                            ) from None
                    if end >= len(buf) and not eof:
                        # A number may continue in the next chunk; read on before trusting it.
                        if fill():
                            continue
                    i = end
                    n += 1
                    if limit is not None and n > limit:
                        return
                    if problem is not None:
                        yield n, None, problem
                    elif isinstance(value, dict):
                        if problem := _bad_key(value):
                            yield n, None, problem
                        else:
                            yield n, value, None
                    else:
                        yield n, None, "is not a JSON object"
            except UnicodeError as exc:
                raise ReadError(
                    f"the file is not valid {self._encoding}; give the right encoding"
                ) from exc
        if not started:
            raise ReadError("the file is empty")
        raise ReadError("the JSON array is not closed (the file is cut short)")

    def batches(self, size: int) -> Iterator[Batch]:
        yield from _batched(self._records(), size, lambda: self._pos)


class ParquetReader(Reader):
    format = "parquet"

    def __init__(self, path: Path, part: tuple[int, int | None] | None = None) -> None:
        # Imported here: the operations worker starts faster without pyarrow for CSV files.
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
            self.columns = [str(name) for name in self._file.schema_arrow.names]
            self.total_rows = self._file.metadata.num_rows
        except Exception as exc:
            raise ReadError(f"not a readable Parquet file: {exc}") from exc
        if len(set(self.columns)) != len(self.columns):
            raise ReadError("the file names a column twice")
        self.total_bytes = path.stat().st_size
        self.wanted: list[str] | None = None
        self._groups: list[int] | None = None
        if part is not None:
            first, stop = part
            self._groups = list(range(first, stop or self._file.metadata.num_row_groups))

    def batches(self, size: int) -> Iterator[Batch]:
        row_no = 0
        read = 0
        batches = self._file.iter_batches(
            batch_size=size, row_groups=self._groups, columns=self.wanted
        )
        while True:
            # A damaged page shows only when it is read: name it instead of crashing the job.
            try:
                record_batch = next(batches, None)
                if record_batch is None:
                    return
                records = record_batch.to_pylist()
            except Exception as exc:
                raise ReadError(
                    f"the Parquet file is damaged near row {row_no + 1}: {exc}"
                ) from None
            rows = []
            for record in records:
                row_no += 1
                rows.append((row_no, record))
            read += record_batch.nbytes
            self.last_row = row_no
            yield Batch(rows, [], read)

    def close(self) -> None:
        self._file.close()


def _bad_key(record: dict[str, Any]) -> str | None:
    """Why a record's field name cannot be a column, or None. A JSON key may hold NUL or a
    lone surrogate (as escapes); as a column name it would reach responses and metadata."""
    for key in record:
        if not key.isascii() or "\x00" in key:
            if problem := bad_chars(key):
                return f"a field name {problem}"
    return None


def _probe_keys(records: Iterator[tuple[int, Any, str | None]]) -> list[str]:
    keys: dict[str, None] = {}
    seen = 0
    for _, value, _error in records:
        if value is not None:
            seen += 1
            for key in value:
                keys.setdefault(str(key), None)
    if not seen:
        raise ReadError("the file has no records (or none is a JSON object)")
    return list(keys)


def _batched(
    records: Iterator[tuple[int, Any, str | None]], size: int, position: Any
) -> Iterator[Batch]:
    rows: list[tuple[int, Any]] = []
    errors: list[RowError] = []
    for row_no, value, error in records:
        if error is not None:
            errors.append(RowError(row_no, error))
        else:
            rows.append((row_no, value))
        if len(rows) + len(errors) >= size:
            yield Batch(rows, errors, position())
            rows, errors = [], []
    if rows or errors:
        yield Batch(rows, errors, position())


def open_reader(
    path: Path,
    *,
    fmt: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    part: tuple[int, int | None] | None = None,
) -> Reader:
    """Open a file (or one part of it, see split.py); ReadError for an empty or unreadable one.

    A part is (start byte, end byte or None) for text files, row groups for Parquet."""
    if not path.exists() or not path.is_file():
        raise ReadError("the file does not exist")
    if path.stat().st_size == 0:
        raise ReadError("the file is empty")
    kind = detect_format(path, fmt)
    if kind == "parquet":
        return ParquetReader(path, part)
    enc = detect_encoding(path, encoding)
    check_decodes(path, enc)
    if kind == "csv":
        return CSVReader(path, encoding=enc, delimiter=delimiter, part=part)
    if kind == "jsonl":
        return JSONLReader(path, encoding=enc, part=part)
    if kind == "json":
        return JSONArrayReader(path, encoding=enc)
    raise ReadError(f"unknown format {kind!r}; use one of {', '.join(FORMATS)}")
