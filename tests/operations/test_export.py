"""Exports in every format, and round trips: import → export → import → compare."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI

from tests.conftest import assert_error, unique
from tests.operations.helpers import import_path, records, run_export, run_import

DATA = [
    {
        "external_id": f"k{i}",
        "content": f'line {i}: comma, "quote" and\nnewline ünïcødé',
        "memory_type": ["note", "fact", "task"][i % 3],
        "metadata": {"n": i, "tags": ["a", "b"], "nested": {"ok": i % 2 == 0}},
    }
    for i in range(25)
]


def comparable(rows: list[dict]) -> list[tuple]:
    return sorted(
        (
            r["external_id"],
            r["content"],
            r["memory_type"],
            json.dumps(r["metadata"], sort_keys=True),
        )
        for r in rows
    )


async def seed(client: httpx.AsyncClient, app: FastAPI, operator: dict) -> str:
    coll = unique("src")
    path = import_path(app, f"{coll}.jsonl")
    path.write_text("\n".join(json.dumps(d) for d in DATA))
    await run_import(client, operator, path=path.name, collection=coll)
    return coll


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
async def test_round_trip(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, viewer: dict, fmt: str
) -> None:
    coll = await seed(client, app, operator)
    job, body = await run_export(client, operator, format=fmt, collection=coll)
    assert job["result"]["rows"] == len(DATA)
    if fmt == "csv":
        parsed = list(csv.DictReader(io.StringIO(body.decode())))
        assert len(parsed) == len(DATA) and parsed[0]["collection"] == coll
    elif fmt == "jsonl":
        lines = [json.loads(x) for x in body.decode().splitlines()]
        assert lines[0]["metadata"] == DATA[0]["metadata"]
    else:
        table = pq.read_table(pa.BufferReader(body))
        assert table.num_rows == len(DATA) and "content" in table.column_names
    target = unique("back")
    import_path(app, f"{target}.{fmt}").write_bytes(body)
    back = await run_import(client, operator, path=f"{target}.{fmt}", collection=target)
    assert back["result"]["inserted"] == len(DATA)
    original = await records(client, viewer, coll)
    assert comparable(await records(client, viewer, target)) == comparable(original)
    again = await run_import(client, operator, path=f"{target}.{fmt}", collection=target)
    assert again["result"]["unchanged"] == len(DATA) and again["result"]["inserted"] == 0


async def test_export_filter_and_download_rules(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, viewer: dict
) -> None:
    coll = await seed(client, app, operator)
    job, body = await run_export(
        client, operator, format="jsonl", collection=coll, memory_type="fact"
    )
    lines = [json.loads(x) for x in body.decode().splitlines()]
    assert lines and all(x["memory_type"] == "fact" for x in lines)
    assert (
        job["result"]["rows"] == len(lines) == len([d for d in DATA if d["memory_type"] == "fact"])
    )
    resp = await client.get(f"/api/v1/jobs/{job['id']}/download", headers=viewer)
    assert resp.status_code == 200
    assert "attachment" in resp.headers["content-disposition"]
    assert_error(await client.get("/api/v1/jobs/nope/download", headers=viewer), 404)
    assert_error(await client.get(f"/api/v1/jobs/{job['id']}/download"), 401)

    empty, body = await run_export(client, operator, format="csv", collection=unique("none"))
    assert empty["result"]["rows"] == 0 and body.decode().startswith('"id"')

    bad = [
        {"format": "xml"},
        {"format": "csv", "collection": "bad name!"},
        {"format": "sheet"},
        {"format": "csv", "surprise": 1},
    ]
    for params in bad:
        assert_error(
            await client.post("/api/v1/operations/export", json=params, headers=operator), 422
        )
    assert_error(
        await client.post("/api/v1/operations/export", json={"format": "csv"}, headers=viewer),
        403,
    )
