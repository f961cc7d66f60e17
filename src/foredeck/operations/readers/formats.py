"""Streaming readers for CSV, JSON arrays, JSONL and Parquet: rows in batches, bounded memory."""

from __future__ import annotations

import csv
import io
import itertools
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from foredeck.operations.readers.base import Batch as Batch
from foredeck.operations.readers.base import Reader as Reader
from foredeck.operations.readers.base import RowError as RowError
from foredeck.operations.readers.detect import ReadError as ReadError
from foredeck.operations.readers.detect import (
    check_decodes,
    detect_encoding,
    detect_format,
    sniff_dialect,
)
from foredeck.operations.readers.jsonfiles import HEADER_PROBE_RECORDS as HEADER_PROBE_RECORDS
from foredeck.operations.readers.jsonfiles import JSONArrayReader as JSONArrayReader
from foredeck.operations.readers.jsonfiles import JSONLReader as JSONLReader
from foredeck.operations.readers.split import RangeReader

FORMATS = ("csv", "json", "jsonl", "parquet")
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


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
