"""Streaming readers for CSV, JSON arrays, JSONL and Parquet: rows in batches, bounded memory."""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMATS = ("csv", "json", "jsonl", "parquet")
SAMPLE_BYTES = 256 * 1024
# Keys of the first records of a JSON file make its "header".
HEADER_PROBE_RECORDS = 200
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class ReadError(ValueError):
    """The file cannot be read as asked; the message says why and is safe to show."""


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


def detect_format(path: Path, given: str | None = None) -> str:
    """The format named, else by extension, else by the first bytes."""
    if given and given != "auto":
        return given
    suffix = path.suffix.lower()
    by_suffix = {
        ".csv": "csv",
        ".tsv": "csv",
        ".txt": "csv",
        ".json": "json",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".parquet": "parquet",
        ".pq": "parquet",
    }
    if suffix in by_suffix:
        return by_suffix[suffix]
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        return "jsonl"
    return "csv"


def detect_encoding(path: Path, given: str | None = None) -> str:
    """The encoding named (checked to exist), else UTF-8 when the sample decodes, else a guess."""
    if given:
        try:
            codecs.lookup(given)
        except LookupError as exc:
            raise ReadError(f"unknown encoding {given!r}") from exc
        return given
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # A multi-byte character may be cut at the sample's end.
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4:
            return "utf-8"
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        raise ReadError("cannot detect the text encoding; give one (e.g. encoding=latin-1)")
    best = matches[0]
    # Short samples often tie; Western European text is then the likelier reading.
    for match in matches:
        if (match.chaos, match.coherence) == (best.chaos, best.coherence):
            if match.encoding == "cp1252":
                return "cp1252"
    return str(best.encoding)


def check_decodes(path: Path, encoding: str) -> None:
    """Refuse at once a file whose first part does not decode with the encoding."""
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        decoder.decode(sample, final=False)
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"the file is not valid {encoding} (byte {exc.start}); give the right encoding"
        ) from exc


class _CountingReader(io.RawIOBase):
    """Counts bytes handed to the text layer, for percent done on files of known size."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self.raw.readinto(b)
        self.count += n or 0
        return n or 0

    def close(self) -> None:
        self.raw.close()
        super().close()


class Reader:
    """One opened source: its columns, its size, and its rows in batches."""

    format: str
    columns: list[str]
    total_rows: int | None = None
    total_bytes: int | None = None

    def batches(self, size: int) -> Iterator[Batch]:
        raise NotImplementedError

    def close(self) -> None:
        return None


class CSVReader(Reader):
    format = "csv"

    def __init__(self, path: Path, *, encoding: str, delimiter: str | None = None) -> None:
        self.total_bytes = path.stat().st_size
        dialect: Any = csv.excel
        if delimiter:
            dialect = type("Given", (csv.excel,), {"delimiter": delimiter})
        elif path.suffix.lower() == ".tsv":
            dialect = csv.excel_tab
        else:
            with open(path, encoding=encoding, newline="", errors="replace") as handle:
                sample = handle.read(64 * 1024)
            # Sniff whole lines only: a cut line can fool the delimiter guess.
            if len(sample) == 64 * 1024 and "\n" in sample:
                sample = sample[: sample.rfind("\n")]
            try:
                dialect = csv.Sniffer().sniff(sample, ",;\t|")
            except csv.Error:
                dialect = csv.excel
        self._counter = _CountingReader(open(path, "rb", buffering=0))
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._counter, 1 << 20), encoding=encoding, newline=""
        )
        self._reader = csv.reader(self._text, dialect)
        try:
            header = next(self._reader)
        except StopIteration:
            raise ReadError("the file is empty") from None
        except UnicodeDecodeError as exc:
            raise ReadError(f"the file is not valid {encoding}: {exc.reason}") from exc
        self.columns = [h.strip() for h in header]
        if not any(self.columns):
            raise ReadError("the first row (the header) is empty")
        if len(set(self.columns)) != len(self.columns):
            raise ReadError("the header names a column twice")

    def batches(self, size: int) -> Iterator[Batch]:
        width = len(self.columns)
        row_no = 0
        reader = self._reader
        while True:
            rows: list[tuple[int, Any]] = []
            errors: list[RowError] = []
            try:
                for values in reader:
                    row_no += 1
                    if len(values) != width:
                        if not values or values == [""]:
                            continue
                        errors.append(
                            RowError(row_no, f"has {len(values)} fields, the header has {width}")
                        )
                    else:
                        rows.append((row_no, values))
                    if len(rows) + len(errors) >= size:
                        break
            except UnicodeDecodeError as exc:
                raise ReadError(
                    f"the file is not valid {self._text.encoding} near row {row_no + 1}; "
                    "give the right encoding"
                ) from exc
            except csv.Error as exc:
                raise ReadError(f"CSV error near row {row_no + 1}: {exc}") from exc
            if not rows and not errors:
                return
            yield Batch(rows, errors, self._counter.count)

    def close(self) -> None:
        self._text.close()


class JSONLReader(Reader):
    format = "jsonl"

    def __init__(self, path: Path, *, encoding: str) -> None:
        self.total_bytes = path.stat().st_size
        self._path = path
        self._encoding = encoding
        self.columns = _probe_keys(self._records(limit=HEADER_PROBE_RECORDS))
        self._counter: _CountingReader | None = None

    def _records(self, limit: int | None = None) -> Iterator[tuple[int, Any, str | None]]:
        counter = _CountingReader(open(self._path, "rb", buffering=0))
        self._counter = counter
        text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 20), encoding=self._encoding)
        try:
            for line_no, line in enumerate(text, start=1):
                if limit is not None and line_no > limit:
                    return
                stripped = line.strip()
                if not stripped:
                    continue
                try:
                    value = json.loads(stripped)
                except json.JSONDecodeError as exc:
                    yield line_no, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
                    continue
                if not isinstance(value, dict):
                    yield line_no, None, "is not a JSON object"
                    continue
                yield line_no, value, None
        except UnicodeDecodeError as exc:
            raise ReadError(
                f"the file is not valid {self._encoding}; give the right encoding"
            ) from exc
        finally:
            text.close()

    def batches(self, size: int) -> Iterator[Batch]:
        yield from _batched(
            self._records(), size, lambda: self._counter.count if self._counter else 0
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
        decoder = json.JSONDecoder()
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
                    try:
                        value, end = decoder.raw_decode(buf, i)
                    except json.JSONDecodeError as exc:
                        if not eof and len(buf) - i < self.MAX_ELEMENT and fill():
                            continue
                        raise ReadError(
                            f"invalid JSON in element {n + 1}: {exc.msg}; "
                            "the rest of the file cannot be read"
                        ) from exc
                    if end >= len(buf) and not eof:
                        # A number may continue in the next chunk; read on before trusting it.
                        if fill():
                            continue
                    i = end
                    n += 1
                    if limit is not None and n > limit:
                        return
                    if isinstance(value, dict):
                        yield n, value, None
                    else:
                        yield n, None, "is not a JSON object"
            except UnicodeDecodeError as exc:
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

    def __init__(self, path: Path) -> None:
        # Imported here: the operations worker starts faster without pyarrow for CSV files.
        import pyarrow.parquet as pq

        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:
            raise ReadError(f"not a readable Parquet file: {exc}") from exc
        self.columns = list(self._file.schema_arrow.names)
        self.total_rows = self._file.metadata.num_rows
        self.total_bytes = path.stat().st_size
        self.wanted: list[str] | None = None

    def batches(self, size: int) -> Iterator[Batch]:
        row_no = 0
        read = 0
        for record_batch in self._file.iter_batches(batch_size=size, columns=self.wanted):
            rows = []
            for record in record_batch.to_pylist():
                row_no += 1
                rows.append((row_no, record))
            read += record_batch.nbytes
            yield Batch(rows, [], read)

    def close(self) -> None:
        self._file.close()


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
) -> Reader:
    """Open a file for reading rows; ReadError for an empty or unreadable file."""
    if not path.exists() or not path.is_file():
        raise ReadError("the file does not exist")
    if path.stat().st_size == 0:
        raise ReadError("the file is empty")
    kind = detect_format(path, fmt)
    if kind == "parquet":
        return ParquetReader(path)
    enc = detect_encoding(path, encoding)
    check_decodes(path, enc)
    if kind == "csv":
        return CSVReader(path, encoding=enc, delimiter=delimiter)
    if kind == "jsonl":
        return JSONLReader(path, encoding=enc)
    if kind == "json":
        return JSONArrayReader(path, encoding=enc)
    raise ReadError(f"unknown format {kind!r}; use one of {', '.join(FORMATS)}")
