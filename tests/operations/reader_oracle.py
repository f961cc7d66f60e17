"""An independent reading of an import file, for the reader property tests.

It says, from the file alone and Python's own csv / json / pyarrow, which rows the file holds,
the external id each would be stored under, and which rows must be row errors (the documented
rules: wrong types, NUL, lone surrogates, numbers and nesting past the JSON limits). Where the
file cannot be read at all it says so (`fatal`); where Python itself cannot tell (nesting past
its recursion limit) it gives up (`known` is False) and the test checks only the invariants.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_DEPTH = 64
MAX_CONTENT = 100_000
CONTENT_NAMES = ("content", "text", "body")
PROBE = 200


@dataclass
class Expected:
    """rows: row number -> the external id it is stored under (None: none); must_fail: rows
    that must be row errors; fatal: the file must be refused (4xx) or its job must fail."""

    rows: dict[int, str | None] = field(default_factory=dict)
    must_fail: set[int] = field(default_factory=set)
    fatal: bool = False
    known: bool = True


class _Limit:
    """A value the import refuses (NaN, infinity, an integer past the digit limit)."""


LIMIT = _Limit()


def _int(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return LIMIT


def _float(text: str) -> Any:
    value = float(text)
    return LIMIT if math.isinf(value) else value


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=lambda _: LIMIT)


def _refused(value: Any, depth: int = 1) -> bool:
    """Whether a decoded value holds something past the JSON limits."""
    if value is LIMIT:
        return True
    if isinstance(value, dict | list):
        if depth > MAX_DEPTH:
            return True
        items = value.values() if isinstance(value, dict) else value
        return any(_refused(v, depth + 1) for v in items)
    return False


def _unstorable(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _as_text(value: Any) -> str | None:
    """The text a value stands for; ValueError where it stands for none (the documented
    rule: numbers become their text, everything else that is not a string is refused)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(type(value).__name__)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not finite")
        if value.is_integer():
            return str(int(value))
    return str(value)


def _row(exp: Expected, row_no: int, content: Any, ext: Any) -> None:
    """Record one row: its external id, or that it must be a row error."""
    try:
        text = _as_text(content)
        ext_text = _as_text(ext)
    except ValueError:
        exp.must_fail.add(row_no)
        return
    if not text or text.isspace() or len(text) > MAX_CONTENT or _unstorable(text):
        exp.must_fail.add(row_no)
        return
    if ext_text and (len(ext_text) > 256 or _unstorable(ext_text)):
        exp.must_fail.add(row_no)
        return
    exp.rows[row_no] = ext_text or None


def _readable(value: Any) -> bool:
    """A JSON row the import reads: an object within the limits whose keys can be columns."""
    return (
        isinstance(value, dict) and not _refused(value) and not any(_unstorable(k) for k in value)
    )


def _columns(records: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record))
    content = next((c for c in CONTENT_NAMES if c in keys), None)
    return content, "external_id" if "external_id" in keys else None


def _objects(exp: Expected, items: list[tuple[int, Any]]) -> Expected:
    """JSON / JSONL rows, once decoded: (row number, value or LIMIT for a refused one)."""
    good = [v for n, v in items if n <= PROBE and _readable(v)]
    if not good:
        exp.fatal = True
        return exp
    content, ext = _columns(good)
    if content is None:
        exp.fatal = True
        return exp
    for row_no, value in items:
        if not _readable(value):
            exp.must_fail.add(row_no)
        else:
            _row(exp, row_no, value.get(content), value.get(ext) if ext else None)
    return exp


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def jsonl(data: bytes) -> Expected:
    exp = Expected()
    text = _utf8(data)
    if text is None:
        return Expected(fatal=True)
    items: list[tuple[int, Any]] = []
    for line_no, line in enumerate(io.StringIO(text, newline=None), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            value = _DECODER.decode(stripped)
        except json.JSONDecodeError:
            value = LIMIT
        except RecursionError:
            value = LIMIT
        items.append((line_no, value))
    return _objects(exp, items)


def json_array(data: bytes) -> Expected:
    """A top-level array, element by element (so one element past a limit is one row error);
    a byte order mark counts as whitespace between elements, as the import reads it."""
    exp = Expected()
    text = _utf8(data)
    if text is None:
        return Expected(fatal=True)

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n\ufeff":
            i += 1
        return i

    i = skip(0)
    if not text.startswith("[", i):
        return Expected(fatal=True)
    i = skip(i + 1)
    items: list[tuple[int, Any]] = []
    if text.startswith("]", i):
        i += 1
    else:
        while True:
            try:
                value, i = _DECODER.raw_decode(text, i)
            except json.JSONDecodeError:
                return Expected(fatal=True)
            except RecursionError:
                return Expected(known=False)
            items.append((len(items) + 1, value))
            i = skip(i)
            if text.startswith("]", i):
                i += 1
                break
            if not text.startswith(",", i):
                return Expected(fatal=True)
            i = skip(i + 1)
    if skip(i) < len(text):
        return Expected(fatal=True)
    return _objects(exp, items)


def csv_file(data: bytes) -> Expected:
    """RFC 4180 with a comma (the test gives the delimiter, so no dialect is guessed)."""
    exp = Expected()
    text = _utf8(data)
    if text is None:
        return Expected(fatal=True)
    reader = csv.reader(io.StringIO(text, newline=""), csv.excel)
    try:
        header = [h.strip() for h in next(reader)]
    except (StopIteration, csv.Error):
        return Expected(fatal=True)
    names = set(header)
    content = next((c for c in CONTENT_NAMES if c in names), None)
    if content is None or len(names) != len(header) or any("\x00" in h for h in header):
        return Expected(fatal=True)
    ci = header.index(content)
    ei = header.index("external_id") if "external_id" in names else None
    row_no = 0
    try:
        for values in reader:
            row_no += 1
            if len(values) != len(header):
                if values and values != [""]:
                    exp.must_fail.add(row_no)
                continue
            _row(exp, row_no, values[ci], values[ei] if ei is not None else None)
    except csv.Error:
        return Expected(fatal=True)
    return exp


def parquet(path: Path) -> Expected:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
        records = table.to_pylist()
    except Exception:
        return Expected(known=False)
    names = table.column_names
    content = next((c for c in CONTENT_NAMES if c in names), None)
    if content is None or len(set(names)) != len(names):
        return Expected(fatal=True)
    exp = Expected()
    for row_no, record in enumerate(records, start=1):
        ext = record.get("external_id") if "external_id" in names else None
        _row(exp, row_no, record.get(content), ext)
    return exp
