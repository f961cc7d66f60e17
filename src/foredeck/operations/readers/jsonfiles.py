"""JSON readers: JSONL line by line, a top-level JSON array one element at a time."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from foredeck.kit import safejson
from foredeck.operations.imports.mapping import bad_chars
from foredeck.operations.readers.base import Batch, Reader, RowError
from foredeck.operations.readers.detect import ReadError
from foredeck.operations.readers.split import RangeReader

# Keys of the first records of a JSON file make its "header".
HEADER_PROBE_RECORDS = 200


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
            # Strict about the array's punctuation: a missing or doubled comma is a broken
            # file, not a row to guess at.
            need_comma = comma = False
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
                        if comma:
                            raise ReadError(f"invalid JSON: a ',' before ']' after element {n}")
                        i += 1
                        self._check_end(buf[i:], text)
                        return
                    if ch == ",":
                        if not need_comma:
                            raise ReadError(
                                f"invalid JSON: a ',' where element {n + 1} should start; "
                                "the rest of the file cannot be read"
                            )
                        need_comma, comma = False, True
                        i += 1
                        continue
                    if need_comma:
                        raise ReadError(
                            f"invalid JSON: no ',' between elements {n} and {n + 1}; "
                            "the rest of the file cannot be read"
                        )
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
                    need_comma, comma = True, False
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

    @staticmethod
    def _check_end(rest: str, text: Any) -> None:
        """Only whitespace may follow the array: a second array (two files joined) or other
        data would otherwise be dropped without a word."""
        while True:
            if rest.strip(" \t\r\n\ufeff"):
                raise ReadError("invalid JSON: data after the array's closing ']'")
            rest = text.read(1 << 16)
            if not rest:
                return

    def batches(self, size: int) -> Iterator[Batch]:
        yield from _batched(self._records(), size, lambda: self._pos)


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
