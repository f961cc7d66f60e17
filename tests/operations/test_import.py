"""Imports from files in every format: mapping, modes, idempotence, per-row errors."""

from __future__ import annotations

import json

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import FastAPI

from tests.conftest import assert_error, unique
from tests.operations.helpers import import_path, records, run_import


async def test_csv_upsert_is_idempotent(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("csv")
    path = import_path(app, f"{coll}.csv")
    path.write_text(
        'id,text,kind,tag\na1,first row,fact,x\na2,"second, with comma",note,y\na3,third,task,\n'
    )
    mapping = {"content": "text", "external_id": "id", "memory_type": "kind", "metadata": ["tag"]}
    job = await run_import(client, operator, path=path.name, collection=coll, mapping=mapping)
    result = job["result"]
    assert (result["inserted"], result["updated"], result["unchanged"]) == (3, 0, 0), result
    rows = await records(client, operator, coll)
    assert [r["external_id"] for r in rows] == ["a1", "a2", "a3"]
    assert rows[1]["content"] == "second, with comma" and rows[1]["metadata"] == {"tag": "y"}
    assert rows[2]["memory_type"] == "task" and rows[2]["metadata"] == {}
    assert all(r["embedding_state"] in ("pending", "embedded") for r in rows)

    again = await run_import(client, operator, path=path.name, collection=coll, mapping=mapping)
    assert (again["result"]["inserted"], again["result"]["unchanged"]) == (0, 3)
    assert len(await records(client, operator, coll)) == 3

    path.write_text("id,text,kind,tag\na1,first row,fact,x\na2,changed,note,y\na4,new,note,z\n")
    third = await run_import(client, operator, path=path.name, collection=coll, mapping=mapping)
    r = third["result"]
    assert (r["inserted"], r["updated"], r["unchanged"]) == (1, 1, 1), r
    by_id = {x["external_id"]: x for x in await records(client, operator, coll)}
    assert by_id["a2"]["content"] == "changed" and len(by_id) == 4


async def test_json_jsonl_parquet_and_modes(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("fmt")
    data = [
        {"external_id": f"e{i}", "content": f"record {i}", "metadata": {"n": i}} for i in range(5)
    ]
    (import_path(app, f"{coll}.json")).write_text(json.dumps(data))
    (import_path(app, f"{coll}.jsonl")).write_text(
        "\n".join(json.dumps({**d, "content": d["content"] + "!"}) for d in data)
    )
    pq.write_table(
        pa.Table.from_pylist([{"external_id": "p1", "content": "from parquet"}]),
        import_path(app, f"{coll}.parquet"),
    )
    first = await run_import(client, operator, path=f"{coll}.json", collection=coll)
    assert first["result"]["inserted"] == 5 and first["result"]["format"] == "json"
    second = await run_import(client, operator, path=f"{coll}.jsonl", collection=coll)
    assert second["result"]["updated"] == 5
    rows = await records(client, operator, coll)
    assert rows[0]["content"] == "record 0!" and rows[0]["metadata"] == {"n": 0}

    # append: existing external ids are reported and skipped, new ones added
    app_job = await run_import(
        client, operator, path=f"{coll}.parquet", collection=coll, mode="append"
    )
    assert app_job["result"]["inserted"] == 1
    dup = await run_import(client, operator, path=f"{coll}.json", collection=coll, mode="append")
    assert dup["result"]["skipped"] == 5 and dup["result"]["errors"][0]["row"] == 1

    # replace: the collection ends up exactly as the file
    rep = await run_import(
        client, operator, path=f"{coll}.parquet", collection=coll, mode="replace"
    )
    assert rep["result"]["deleted"] == 5 and rep["result"]["unchanged"] == 1
    assert [r["external_id"] for r in await records(client, operator, coll)] == ["p1"]


async def test_row_errors_are_reported_by_number(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("rows")
    lines = [json.dumps({"content": f"ok {i}", "external_id": str(i)}) for i in range(30)]
    lines[4] = "{not json"
    lines[9] = json.dumps({"content": "", "external_id": "x"})
    lines[14] = json.dumps({"content": "bad type", "memory_type": "nope"})
    import_path(app, f"{coll}.jsonl").write_text("\n".join(lines))
    job = await run_import(client, operator, path=f"{coll}.jsonl", collection=coll)
    result = job["result"]
    assert result["inserted"] == 27 and result["skipped"] == 3
    assert [e["row"] for e in result["errors"]] == [5, 10, 15]
    assert "invalid JSON" in result["errors"][0]["reason"]
    assert "content is empty" in result["errors"][1]["reason"]
    assert "memory_type" in result["errors"][2]["reason"]
    events = await client.get(f"/api/v1/jobs/{job['id']}/events/history", headers=operator)
    assert events.status_code == 200, events.text
    row_events = [e for e in events.json()["data"] if e["kind"] == "row_errors"]
    assert [e["row"] for ev in row_events for e in ev["data"]["errors"]] == [5, 10, 15]

    ragged = import_path(app, f"{coll}-ragged.csv")
    ragged.write_text(
        "content,external_id\n" + "".join(f"c{i},{i}\n" for i in range(20)) + "x,1,2\n"
    )
    job = await run_import(client, operator, path=ragged.name, collection=coll + "r")
    assert job["result"]["errors"] == [{"row": 21, "reason": "has 3 fields, the header has 2"}]


async def test_too_many_errors_fails_and_changes_nothing(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("ratio")
    path = import_path(app, f"{coll}.jsonl")
    path.write_text("\n".join(["{bad"] * 5 + [json.dumps({"content": "fine"})] * 5))
    job = await run_import(client, operator, expect="failed", path=path.name, collection=coll)
    assert "nothing was imported" in job["error"]
    assert await records(client, operator, coll) == []


async def test_bad_files_are_refused_before_a_job(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("bad")
    empty = import_path(app, f"{coll}-empty.csv")
    empty.write_text("")
    latin = import_path(app, f"{coll}-latin.csv")
    latin.write_bytes("content\ncaf\xe9 cr\xe8me\n".encode("latin-1"))
    wrong_cols = import_path(app, f"{coll}.parquet")
    pq.write_table(pa.Table.from_pylist([{"title": "x"}]), wrong_cols)
    cases = [
        ({"path": empty.name}, "file"),
        ({"path": "missing.csv"}, "path"),
        ({"path": "../../etc/passwd"}, "path"),
        ({"path": latin.name, "encoding": "utf-8"}, "file"),
        ({"path": wrong_cols.name}, "mapping.content"),
        ({"path": latin.name, "mapping": {"content": "nope"}}, "mapping.content"),
        ({"path": latin.name, "mode": "merge"}, "mode"),
        ({"source": "url"}, None),
    ]
    for params, field in cases:
        resp = await client.post(
            "/api/v1/operations/import", json={**params, "collection": coll}, headers=operator
        )
        err = assert_error(resp, 422)
        if field:
            assert err["details"][0]["field"] == field, (params, err)
    assert await records(client, operator, coll) == []
    # Latin-1 is detected when no encoding is given.
    job = await run_import(client, operator, path=latin.name, collection=coll)
    assert (await records(client, operator, coll))[0]["content"] == "café crème"
    assert job["result"]["inserted"] == 1


async def test_broken_json_files(client: httpx.AsyncClient, app: FastAPI, operator: dict) -> None:
    coll = unique("js")
    obj = import_path(app, f"{coll}-object.json")
    obj.write_text(json.dumps({"content": "not in an array"}))
    resp = await client.post(
        "/api/v1/operations/import", json={"path": obj.name, "collection": coll}, headers=operator
    )
    assert "array" in assert_error(resp, 422)["details"][0]["message"]

    cut = import_path(app, f"{coll}-cut.json")
    body = json.dumps([{"content": f"item {i}"} for i in range(300)])
    cut.write_text(body[: len(body) - 40])
    job = await run_import(client, operator, expect="failed", path=cut.name, collection=coll)
    assert "cut short" in job["error"] or "invalid JSON" in job["error"]
    assert await records(client, operator, coll) == []

    with_non_objects = import_path(app, f"{coll}-mixed.json")
    items: list[object] = [{"content": f"ok {i}"} for i in range(20)]
    items[3] = "a string"
    items[7] = [1, 2]
    with_non_objects.write_text(json.dumps(items))
    job = await run_import(client, operator, path=with_non_objects.name, collection=coll)
    assert job["result"]["inserted"] == 18
    assert [e["row"] for e in job["result"]["errors"]] == [4, 8]


async def test_preview_shows_the_mapping_and_first_rows(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("pre")
    path = import_path(app, f"{coll}.csv")
    path.write_text("id;text;kind;tag\n1;hello;fact;a\n2;;note;b\n3;third;bogus;c\n")
    resp = await client.post(
        "/api/v1/operations/import/preview",
        json={
            "path": path.name,
            "collection": coll,
            "mapping": {
                "content": "text",
                "external_id": "id",
                "memory_type": "kind",
                "metadata": "*",
            },
        },
        headers=operator,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["columns"] == ["id", "text", "kind", "tag"] and data["format"] == "csv"
    assert data["mapping"]["metadata"] == ["tag"]
    rows = data["rows"]
    assert rows[0]["content"] == "hello" and rows[0]["metadata"] == {"tag": "a"}
    assert rows[1]["error"] == "content is empty" and "memory_type" in rows[2]["error"]
    assert await records(client, operator, coll) == []
    bad = await client.post(
        "/api/v1/operations/import/preview",
        json={"path": path.name, "mapping": {"content": "nope"}},
        headers=operator,
    )
    assert_error(bad, 422)


async def test_rows_without_external_ids(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("noid")
    path = import_path(app, f"{coll}.csv")
    path.write_text("content\nalpha\nbeta\nalpha\ngamma\n")
    first = await run_import(client, operator, path=path.name, collection=coll)
    assert (first["result"]["inserted"], first["result"]["duplicates"]) == (3, 1)
    again = await run_import(client, operator, path=path.name, collection=coll)
    assert (again["result"]["inserted"], again["result"]["unchanged"]) == (0, 3)
    appended = await run_import(client, operator, path=path.name, collection=coll, mode="append")
    assert appended["result"]["inserted"] == 4
    smaller = import_path(app, f"{coll}-small.csv")
    smaller.write_text("content\nbeta\n")
    rep = await run_import(client, operator, path=smaller.name, collection=coll, mode="replace")
    assert rep["result"]["deleted"] == 6 and rep["result"]["unchanged"] == 1
    assert [r["content"] for r in await records(client, operator, coll)] == ["beta"]
