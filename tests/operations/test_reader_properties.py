"""Property tests of the import path: random bytes and random mutations of valid CSV, JSON,
JSONL and Parquet files, imported by path (after a preview) or uploaded, through the real app
and real jobs.

Every case must end in one of three ways, never in a 500 or a half-written collection:
- a 4xx in the standard envelope at request time, and nothing stored;
- a failed job whose error is the import's own message, and nothing stored;
- a succeeded job whose row errors name exactly the rows that were not stored: the stored
  external ids are the file's rows (read independently, see reader_oracle.py) minus those.

Bounded for `make test`: derandomized (the same examples every run), a few examples per format,
no shrinking, no example database."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from foredeck.kit.runtime import runtime_of
from tests.conftest import unique
from tests.operations import reader_oracle
from tests.operations.helpers import import_path, records, wait_job

IMPORT = "/api/v1/operations/import"
PREVIEW = "/api/v1/operations/import/preview"
SUFFIX = {"csv": ".csv", "json": ".json", "jsonl": ".jsonl", "parquet": ".parquet"}
# The import's own failures; anything else (WorkerError, a KeyError...) is a crash.
CLEAR_FAILURES = ("ImportFailed: ", "OperationFailed: ")

PROPERTY = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Bytes that matter to one reader or another, and values past the JSON limits.
TOKENS = [
    b"\x00",
    b'"',
    b",",
    b"\n",
    b"\r",
    b"[",
    b"]",
    b"{",
    b"}",
    b":",
    b"\\",
    b"1e999",
    b"9" * 5000,
    b"[" * 100,
    b'{"a": ' * 80,
    b'"\\ud800"',
    b'"\\u0000"',
    b"\xff",
    b"\xef\xbb\xbf",
    b"NaN",
    b"null",
    b"true",
    b'""',
    b"\t",
    b";",
]
MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 1 << 20), st.integers(1, 255)),
    st.tuples(
        st.just("insert"),
        st.integers(0, 1 << 20),
        st.one_of(st.sampled_from(TOKENS), st.binary(min_size=2, max_size=6)),
    ),
    st.tuples(st.just("delete"), st.integers(0, 1 << 20), st.integers(1, 12)),
    st.tuples(st.just("truncate"), st.integers(0, 1 << 20), st.just(0)),
)
JSON_VALUE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=5,
)
WORD = st.text(min_size=1, max_size=12)
# Mostly plain words, so that most rows are stored and the stored ids say something.
PLAIN = st.one_of(WORD, WORD, st.sampled_from(["", "  ", "a\x00b", "é", 'x,y\n"z"']))
# A lone surrogate can only reach a file as a JSON escape (elsewhere it is invalid UTF-8).
TEXT = st.one_of(PLAIN, st.just("\ud800"))
AUTO_ID = "auto"


def mutate(data: bytes, mutations: list[tuple[str, int, Any]]) -> bytes:
    out = bytearray(data)
    for kind, where, arg in mutations:
        at = where % (len(out) + 1)
        if kind == "flip" and out:
            out[at % len(out)] ^= arg
        elif kind == "insert":
            out[at:at] = arg
        elif kind == "delete":
            del out[at : at + arg]
        elif kind == "truncate":
            del out[at:]
    return bytes(out)


def _rows(draw: Any, content: Any, ext: Any, tag: Any) -> list[dict[str, Any]]:
    drawn = draw(st.lists(st.tuples(content, ext, tag), min_size=2, max_size=6))
    return [
        {"content": c, "external_id": f"r{i}" if e == AUTO_ID else e, "tag": t}
        for i, (c, e, t) in enumerate(drawn)
    ]


@st.composite
def csv_file(draw: Any) -> bytes:
    rows = _rows(draw, PLAIN, st.one_of(st.just(AUTO_ID), PLAIN), PLAIN)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(["content", "external_id", "tag"])
    writer.writerows([r["content"], r["external_id"], r["tag"]] for r in rows)
    return out.getvalue().encode("utf-8")


@st.composite
def json_rows(draw: Any) -> list[dict[str, Any]]:
    value = st.one_of(TEXT, TEXT, JSON_VALUE)
    return _rows(draw, value, st.one_of(st.just(AUTO_ID), value), value)


def _dumps(row: Any, ascii_only: bool) -> bytes:
    # A lone surrogate cannot be UTF-8: written as its JSON escape either way.
    return json.dumps(row, ensure_ascii=ascii_only).encode("utf-8", "backslashreplace")


@st.composite
def jsonl_file(draw: Any) -> bytes:
    ascii_only = draw(st.booleans())
    return b"\n".join(_dumps(r, ascii_only) for r in draw(json_rows()))


@st.composite
def json_file(draw: Any) -> bytes:
    ascii_only = draw(st.booleans())
    return _dumps(draw(json_rows()), ascii_only)


@st.composite
def parquet_file(draw: Any) -> bytes:
    text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
    content = st.one_of(text, text, st.sampled_from(["a\x00b", ""]), st.none())
    rows = _rows(draw, content, st.one_of(st.just(AUTO_ID), text), text)
    schema = pa.schema(
        [("content", pa.string()), ("external_id", pa.string()), ("tag", pa.string())]
    )
    if draw(st.booleans()):
        # A column of another type: numbers stand for their text, bytes are refused.
        numbers = draw(st.lists(st.integers(0, 99), min_size=len(rows), max_size=len(rows)))
        for row, n in zip(rows, numbers, strict=True):
            row["tag"] = n
        schema = schema.set(2, pa.field("tag", pa.int64()))
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), out)
    return out.getvalue()


@st.composite
def case(draw: Any, valid: st.SearchStrategy[bytes]) -> tuple[bytes, bool, bool]:
    """(file bytes, read with the oracle's settings, uploaded): mostly a valid file, mutated
    or not; one in four random bytes (read with detection, so only the invariants are checked)."""
    upload = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=300)), False, upload
    return mutate(draw(valid), draw(st.lists(MUTATION, max_size=2))), True, upload


def _envelope(resp: httpx.Response) -> None:
    assert resp.status_code < 500, resp.text
    if resp.status_code >= 400:
        body = resp.json()
        assert body["success"] is False and body["error"]["code"], body


def _uploads_left(app: FastAPI) -> list[str]:
    uploads = runtime_of(app).config.path("imports") / "uploads"
    return [str(p) for p in uploads.rglob("*") if p.is_file()]


def _expected(fmt: str, data: bytes, app: FastAPI) -> reader_oracle.Expected:
    if fmt == "parquet":
        path = import_path(app, f"{unique('oracle')}.parquet")
        path.write_bytes(data)
        try:
            return reader_oracle.parquet(path)
        finally:
            path.unlink()
    read = {"csv": reader_oracle.csv_file, "json": reader_oracle.json_array}
    return read.get(fmt, reader_oracle.jsonl)(data)


async def _start(
    client: httpx.AsyncClient,
    app: FastAPI,
    headers: dict,
    fmt: str,
    data: bytes,
    params: dict[str, Any],
    upload: bool,
) -> httpx.Response:
    if upload:
        fields = {k: json.dumps(v) if k == "mapping" else str(v) for k, v in params.items()}
        files = {"file": (f"data{SUFFIX[fmt]}", data, "application/octet-stream")}
        return await client.post(IMPORT, files=files, data=fields, headers=headers)
    path = import_path(app, params["collection"] + SUFFIX[fmt])
    path.write_bytes(data)
    body = {"path": path.name, **params}
    _envelope(await client.post(PREVIEW, json=body, headers=headers))
    return await client.post(IMPORT, json=body, headers=headers)


async def _check_import(
    client: httpx.AsyncClient,
    app: FastAPI,
    headers: dict,
    fmt: str,
    data: bytes,
    exact: bool,
    upload: bool,
    coll: str,
) -> None:
    params: dict[str, Any] = {
        "collection": coll,
        "max_error_ratio": 1,
        "mapping": {"metadata": "*"},
    }
    if exact and fmt != "parquet":
        params["encoding"] = "utf-8"
    if exact and fmt == "csv":
        params["delimiter"] = ","
    exp = _expected(fmt, data, app) if exact else reader_oracle.Expected(known=False)
    resp = await _start(client, app, headers, fmt, data, params, upload)
    _envelope(resp)
    if resp.status_code != 202:
        assert await records(client, headers, coll) == []
        assert exp.fatal or not exp.known, (resp.text, exp)
        assert _uploads_left(app) == []
        return
    job = await wait_job(client, headers, resp.json()["data"]["job_id"])
    stored = await records(client, headers, coll)
    assert _uploads_left(app) == []
    if job["status"] == "failed":
        assert job["error"].startswith(CLEAR_FAILURES), job["error"]
        assert stored == [], "a failed import stores nothing"
        assert exp.fatal or not exp.known or not exp.rows, (job["error"], exp)
        return
    assert job["status"] == "succeeded", job
    errors = [e["row"] for e in job["result"]["errors"]]
    assert len(errors) == len(set(errors)), errors
    assert all("\x00" not in json.dumps(r) for r in stored)
    assert len(stored) <= job["result"]["rows_read"] - len(errors)
    if not exp.known:
        return
    assert not exp.fatal, (job["result"], exp)
    failed = set(errors)
    assert failed <= set(exp.rows) | exp.must_fail, (failed, exp)
    assert exp.must_fail <= failed, (failed, exp)
    kept = {n: ext for n, ext in exp.rows.items() if n not in failed}
    assert {r["external_id"] for r in stored if r["external_id"] is not None} == {
        ext for ext in kept.values() if ext is not None
    }
    unnamed = [r for r in stored if r["external_id"] is None]
    # Rows without an id and the same content are one record (the content hash).
    assert bool(unnamed) == (None in kept.values())
    assert len(unnamed) <= list(kept.values()).count(None)


async def check_import(
    client: httpx.AsyncClient, app: FastAPI, headers: dict, fmt: str, *example: Any
) -> None:
    coll = unique("prop")
    try:
        await _check_import(client, app, headers, fmt, *example, coll)
    finally:
        import_path(app, coll + SUFFIX[fmt]).unlink(missing_ok=True)


FILES = {"csv": csv_file(), "jsonl": jsonl_file(), "json": json_file(), "parquet": parquet_file()}


@pytest.mark.parametrize("fmt", list(FILES))
@PROPERTY
@given(data=st.data())
async def test_imports_end_in_a_refusal_a_clear_failure_or_exact_row_errors(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, fmt: str, data: st.DataObject
) -> None:
    await check_import(client, app, operator, fmt, *data.draw(case(FILES[fmt])))
