"""Property tests of the streaming readers themselves (no app): a JSON array read in chunks of
a few characters reads as the file does whole (numbers, escapes and literals cut at a chunk's
edge), and a CSV or JSONL file read in the two parts two workers stage gives the rows and row
errors of one pass, numbered the same (or the first part says the split cannot be trusted)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from foredeck.operations.readers.formats import JSONArrayReader, Reader, ReadError, open_reader
from foredeck.operations.readers.split import text_split
from tests.operations import reader_oracle
from tests.operations.test_reader_properties import (
    MUTATION,
    csv_file,
    json_file,
    jsonl_file,
    mutate,
)

FAST = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
Read = tuple[list[tuple[int, Any]], list[int]]


def mutated(valid: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.tuples(valid, st.lists(MUTATION, max_size=2)).map(lambda t: mutate(*t))


def _file(data: bytes, suffix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(data)
        yield path


def read_all(reader: Reader, offset: int = 0) -> Read:
    rows: list[tuple[int, Any]] = []
    errors: list[int] = []
    try:
        for batch in reader.batches(3):
            rows.extend((n + offset, row) for n, row in batch.rows)
            errors.extend(e.row + offset for e in batch.errors)
    finally:
        reader.close()
    return rows, errors


def _same(a: Any, b: Any) -> bool:
    """Equal, NaN-safe (a NaN is refused anyway, but compare what was read)."""
    return repr(a) == repr(b)


@FAST
@given(mutated(json_file()), st.sampled_from([1, 2, 3, 5, 8, 13]))
def test_a_json_array_reads_the_same_in_any_chunk_size(data: bytes, chunk: int) -> None:
    for path in _file(data, ".json"):
        small = type("Small", (JSONArrayReader,), {"CHUNK": chunk})
        try:
            whole = read_all(open_reader(path, encoding="utf-8"))
        except ReadError:
            whole = None
        try:
            pieces: Read | None = read_all(small(path, encoding="utf-8"))
        except ReadError:
            pieces = None
        assert _same(pieces, whole), (chunk, data)
        exp = reader_oracle.json_array(data)
        if whole is None or not exp.known:
            continue
        rows, errors = whole
        # The oracle's row errors are a superset (it also applies the mapping's rules).
        assert {n for n, _ in rows} | set(errors) == set(exp.rows) | exp.must_fail


def _split_matches(data: bytes, fmt: str) -> None:
    suffix = {"csv": ".csv", "jsonl": ".jsonl"}[fmt]
    extra = {"delimiter": ","} if fmt == "csv" else {}
    for path in _file(data, suffix):
        try:
            first = open_reader(path, encoding="utf-8", **extra)
            dialect = getattr(first, "dialect", None)
            whole: Read | None = read_all(first)
        except ReadError:
            whole, dialect = None, None
        cut = text_split(path, fmt, "utf-8", dialect)
        if cut is None:
            continue
        try:
            one = open_reader(path, encoding="utf-8", part=(0, cut), **extra)
            head = read_all(one)
            if not one.split_ok:
                # The import then reads the file again in one pass.
                continue
            two = open_reader(path, encoding="utf-8", part=(cut, None), **extra)
            tail = read_all(two, offset=one.last_row)
        except ReadError:
            assert whole is None, (cut, data)
            continue
        assert whole is not None, (cut, data)
        assert (head[0] + tail[0], head[1] + tail[1]) == whole, (cut, data)


@FAST
@given(mutated(csv_file()))
def test_a_csv_file_reads_the_same_in_two_parts(data: bytes) -> None:
    _split_matches(data, "csv")


@FAST
@given(mutated(jsonl_file()))
def test_a_jsonl_file_reads_the_same_in_two_parts(data: bytes) -> None:
    _split_matches(data, "jsonl")
