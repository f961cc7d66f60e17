"""Hostile values in import files: NUL, wrong JSON types, numbers and nesting past the limits.

Each is a per-row error (the same on SQLite and PostgreSQL) or a 422 before a job starts;
the rows that are stored are exactly the others."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI

from tests.conftest import assert_error, unique
from tests.operations.helpers import import_path, records, run_import


async def _import(
    client: httpx.AsyncClient, headers: dict, name: str, coll: str, **params: Any
) -> dict:
    job = await run_import(client, headers, path=name, collection=coll, max_error_ratio=1, **params)
    return job["result"]


def _errors(result: dict[str, Any]) -> dict[int, str]:
    return {e["row"]: e["reason"] for e in result["errors"]}


async def test_nul_bytes_are_row_errors_in_every_format(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("nul")
    csv_path = import_path(app, f"{coll}.csv")
    csv_path.write_bytes(
        b"content,external_id,tag\n"
        b"fine one,1,a\n"
        b"bad\x00content,2,a\n"
        b"fine two,3\x00,a\n"
        b"fine three,4,b\x00c\n"
        b"fine four,5,d\n"
    )
    result = await _import(client, operator, csv_path.name, coll, mapping={"metadata": "*"})
    assert _errors(result) == {
        2: "content contains a NUL character (U+0000)",
        3: "external_id contains a NUL character (U+0000)",
        4: "metadata contains a NUL character (U+0000)",
    }
    stored = await records(client, operator, coll)
    assert sorted(r["external_id"] for r in stored) == ["1", "5"]
    assert all("\x00" not in json.dumps(r) for r in stored)

    jsonl = import_path(app, f"{coll}.jsonl")
    rows = [
        {"content": "ok", "external_id": "a"},
        {"content": "no\u0000", "external_id": "b"},
        {"content": "ok", "external_id": "c", "metadata": {"k\u0000": 1}},
        {"content": "ok", "external_id": "d", "metadata": {"k": ["x", "y\u0000"]}},
        {"content": "ok", "external_id": "e", "metadata": {"k": "\\u0000 is only text"}},
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows))
    result = await _import(client, operator, jsonl.name, coll + "j")
    assert sorted(_errors(result)) == [2, 3, 4]
    stored = await records(client, operator, coll + "j")
    assert sorted(r["external_id"] for r in stored) == ["a", "e"]
    assert [r["metadata"] for r in stored if r["external_id"] == "e"] == [
        {"k": "\\u0000 is only text"}
    ]

    parquet = import_path(app, f"{coll}.parquet")
    pq.write_table(
        pa.Table.from_pylist(
            [
                {"content": "ok", "external_id": "p1", "tag": "x"},
                {"content": "no\x00", "external_id": "p2", "tag": "x"},
                {"content": "ok", "external_id": "p3", "tag": "\x00"},
            ]
        ),
        parquet,
    )
    result = await _import(client, operator, parquet.name, coll + "p", mapping={"metadata": "*"})
    assert sorted(_errors(result)) == [2, 3]
    assert [r["external_id"] for r in await records(client, operator, coll + "p")] == ["p1"]


async def test_nul_in_a_csv_header_is_refused_before_a_job(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("nulhead")
    path = import_path(app, f"{coll}.csv")
    path.write_bytes(b"content,ta\x00g\nhello,x\n")
    resp = await client.post(
        "/api/v1/operations/import", json={"path": path.name, "collection": coll}, headers=operator
    )
    assert "NUL" in assert_error(resp, 422)["details"][0]["message"]


async def test_wrong_json_types_are_row_errors(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("types")
    rows: list[dict[str, Any]] = [
        {"content": "plain", "external_id": "1"},
        {"content": ["a", "list"], "external_id": "2"},
        {"content": {"an": "object"}, "external_id": "3"},
        {"content": "fine", "external_id": {"an": "object"}},
        {"content": "fine", "external_id": ["x"]},
        {"content": True, "external_id": "6"},
        {"content": 42, "external_id": 7},
        {"content": 2.5, "external_id": "8"},
        {"content": "fine", "external_id": "9", "memory_type": ["note"]},
        {"content": "fine", "external_id": "10", "metadata": ["not", "an", "object"]},
    ]
    path = import_path(app, f"{coll}.json")
    path.write_text(json.dumps(rows))
    result = await _import(client, operator, path.name, coll)
    assert _errors(result) == {
        2: "content is a list, not text",
        3: "content is an object, not text",
        4: "external_id is an object, not text",
        5: "external_id is a list, not text",
        6: "content is a boolean, not text",
        9: "memory_type is a list, not text",
        10: "metadata is not a JSON object",
    }
    stored = {r["external_id"]: r["content"] for r in await records(client, operator, coll)}
    # A number stands for its text (documented in docs/operations.md).
    assert stored == {"1": "plain", "7": "42", "8": "2.5"}


async def test_numbers_and_nesting_past_the_limits(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("limits")
    deep_meta = '{"a": ' * 10_000 + "1" + "}" * 10_000
    lines = [
        json.dumps({"content": "ok", "external_id": "1"}),
        '{"content": "big", "external_id": "2", "n": 1e999}',
        '{"content": "big", "external_id": "3", "n": ' + "9" * 5000 + "}",
        '{"content": "deep", "external_id": "4", "metadata": ' + deep_meta + "}",
        '{"content": "deep", "external_id": "5", "m": ' + "[" * 10_000 + "]" * 10_000 + "}",
        '{"content": "nan", "external_id": "6", "n": NaN}',
        '{"content": "mid", "external_id": "7", "m": ' + "[" * 100 + "]" * 100 + "}",
        json.dumps({"content": "ok", "external_id": "8", "n": 10**100}),
    ]
    path = import_path(app, f"{coll}.jsonl")
    path.write_text("\n".join(lines))
    result = await _import(client, operator, path.name, coll)
    errors = _errors(result)
    assert sorted(errors) == [2, 3, 4, 5, 6, 7]
    assert "out of range" in errors[2]
    assert "digits" in errors[3]
    assert "nested deeper" in errors[4] and "nested deeper" in errors[5]
    assert "NaN" in errors[6]
    stored = await records(client, operator, coll)
    assert sorted(r["external_id"] for r in stored) == ["1", "8"]

    # A metadata column holding JSON text gets the same limits, row by row.
    csv_path = import_path(app, f"{coll}.csv")
    cells = ['"{""a"": 1}"', '"{""a"": 1e999}"', '"' + deep_meta.replace('"', '""') + '"']
    csv_path.write_text(
        "content,external_id,meta\n" + "".join(f"c{i},{i},{c}\n" for i, c in enumerate(cells))
    )
    job = await run_import(
        client,
        operator,
        path=csv_path.name,
        collection=coll + "c",
        max_error_ratio=1,
        mapping={"metadata_json": "meta"},
    )
    assert sorted(_errors(job["result"])) == [2, 3]
    assert [r["metadata"] for r in await records(client, operator, coll + "c")] == [{"a": 1}]


async def test_json_files_past_the_limits_answer_422_at_request_time(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("deepfile")
    nested = import_path(app, f"{coll}-nested.json")
    nested.write_text("[" * 10_000 + "]" * 10_000)
    deep = import_path(app, f"{coll}-deep.json")
    deep.write_text('[{"content": "x", "metadata": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001 + "]")
    for path in (nested, deep):
        resp = await client.post(
            "/api/v1/operations/import",
            json={"path": path.name, "collection": coll},
            headers=operator,
        )
        assert "nested deeper" in assert_error(resp, 422)["details"][0]["message"], path
        preview = await client.post(
            "/api/v1/operations/import/preview", json={"path": path.name}, headers=operator
        )
        assert_error(preview, 422)
    assert await records(client, operator, coll) == []

    numbers = import_path(app, f"{coll}-numbers.json")
    numbers.write_text(
        '[{"content": "a", "n": 1e999}, {"content": "b", "n": '
        + "7" * 5000
        + '}, {"content": "c", "external_id": "c"}]'
    )
    result = await _import(client, operator, numbers.name, coll)
    assert sorted(_errors(result)) == [1, 2]
    assert [r["external_id"] for r in await records(client, operator, coll)] == ["c"]
