"""Hostile import requests: encodings that are no file encoding, JSON bodies and form fields
past the JSON limits, field names that cannot be column names. Each is a 422 in the envelope
(or a per-row error), at preview and at import, and nothing is stored or left behind."""

from __future__ import annotations

import json

import httpx
from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from tests.conftest import assert_error, stored_section, unique
from tests.operations.helpers import import_path, records, run_import, wait_job

IMPORT = "/api/v1/operations/import"
PREVIEW = "/api/v1/operations/import/preview"
JSON = {"content-type": "application/json"}


def _uploads_left(app: FastAPI) -> list[str]:
    uploads = runtime_of(app).config.path("imports") / "uploads"
    return [str(p) for p in uploads.rglob("*") if p.is_file()]


async def test_encodings_that_read_no_file_are_422(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("enc")
    path = import_path(app, f"{coll}.csv")
    path.write_text("content,external_id\nhello,1\n")
    refused = {
        "rot13": "not a text encoding",
        "base64": "not a text encoding",
        "zip": "not a text encoding",
        "hex": "not a text encoding",
        "idna": "not a text encoding",
        "punycode": "not a text encoding",
        "undefined": "not a text encoding",
        "a\x00b": "unknown encoding",
        "no-such-codec": "unknown encoding",
        # A real encoding the file is not in: UTF-16 wants a byte order mark here.
        "utf-16": "not valid utf-16",
    }
    for encoding, said in refused.items():
        body = {"path": path.name, "collection": coll, "encoding": encoding}
        for url in (PREVIEW, IMPORT):
            error = assert_error(await client.post(url, json=body, headers=operator), 422)
            assert said in error["details"][0]["message"], (url, encoding, error)
    assert await records(client, operator, coll) == []
    # The same file in an encoding it is in still imports.
    await run_import(client, operator, path=path.name, collection=coll, encoding="latin-1")
    assert [r["content"] for r in await records(client, operator, coll)] == ["hello"]


async def test_import_bodies_past_the_json_limits_are_422(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("body")
    path = import_path(app, f"{coll}.csv")
    path.write_text("content\nhello\n")
    start = f'{{"path": "{path.name}", "collection": "{coll}", '
    bodies = {
        "[" * 100_000: "nested deeper",
        start + '"mapping": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001: "nested deeper",
        start + '"max_error_ratio": ' + "9" * 5000 + "}": "digits",
        start + '"max_error_ratio": 1e999}': "out of range",
        start + '"max_error_ratio": NaN}': "NaN",
    }
    for body, said in bodies.items():
        resp = await client.post(IMPORT, content=body, headers={**operator, **JSON})
        assert said in assert_error(resp, 422)["details"][0]["message"], body[:80]
        # Preview parses its body with FastAPI: a 4xx in the envelope there too.
        resp = await client.post(PREVIEW, content=body, headers={**operator, **JSON})
        assert resp.status_code in (400, 422), resp.text
        assert resp.json()["success"] is False
    assert await records(client, operator, coll) == []


async def test_an_upload_mapping_past_the_limits_is_422_and_leaves_no_file(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("upmap")
    for mapping, said in (
        ('{"content": ' * 10_000 + '"x"' + "}" * 10_000, "nested deeper"),
        ('{"content": ' + "7" * 5000 + "}", "digits"),
        ('{"content": "content"', "invalid JSON"),
    ):
        resp = await client.post(
            IMPORT,
            files={"file": ("x.csv", b"content\nhello\n", "text/csv")},
            data={"collection": coll, "mapping": mapping},
            headers=operator,
        )
        error = assert_error(resp, 422)
        assert error["details"][0]["field"] == "mapping"
        assert said in error["details"][0]["message"]
    assert _uploads_left(app) == []
    assert await records(client, operator, coll) == []


async def test_field_names_no_database_stores_alike_are_row_errors(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("keys")
    lines = [
        '{"content": "fine", "external_id": "1", "tag": "a"}',
        '{"content": "lone", "external_id": "2", "\\ud800": 1}',
        '{"content": "nul", "external_id": "3", "a\\u0000b": 1}',
        '{"content": "fine", "external_id": "4", "tag": "b"}',
    ]
    jsonl = import_path(app, f"{coll}.jsonl")
    jsonl.write_text("\n".join(lines))
    array = import_path(app, f"{coll}.json")
    array.write_text("[" + ",".join(lines) + "]")
    for path, target in ((jsonl, coll), (array, coll + "a")):
        preview = await client.post(
            PREVIEW, json={"path": path.name, "mapping": {"metadata": "*"}}, headers=operator
        )
        assert preview.status_code == 200, preview.text
        shown = preview.json()["data"]
        assert shown["columns"] == ["content", "external_id", "tag"]
        assert {r["row"]: r["error"] for r in shown["rows"] if r["error"]} == {
            2: "a field name contains an unpaired surrogate (not valid Unicode)",
            3: "a field name contains a NUL character (U+0000)",
        }
        job = await run_import(
            client,
            operator,
            path=path.name,
            collection=target,
            max_error_ratio=1,
            mapping={"metadata": "*"},
        )
        assert sorted(e["row"] for e in job["result"]["errors"]) == [2, 3]
        stored = await records(client, operator, target)
        assert {r["external_id"]: r["metadata"] for r in stored} == {
            "1": {"tag": "a"},
            "4": {"tag": "b"},
        }
    only_bad = import_path(app, f"{coll}-bad.jsonl")
    only_bad.write_text(json.dumps({"content": "x", "\ud800": 1}))
    resp = await client.post(IMPORT, json={"path": only_bad.name}, headers=operator)
    assert_error(resp, 422)


async def _upload(
    client: httpx.AsyncClient, headers: dict, name: str, data: bytes, coll: str
) -> httpx.Response:
    return await client.post(
        IMPORT,
        files={"file": (name, data, "application/octet-stream")},
        data={"collection": coll, "max_error_ratio": "1"},
        headers=headers,
    )


async def test_hostile_files_are_refused_alike_by_preview_path_and_upload(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    """The issue's files, each through the preview, an import by path and an upload."""
    deep_meta = '{"a": ' * 10_000 + "1" + "}" * 10_000
    fatal = {
        "nested.json": ("[" * 10_000 + "]" * 10_000).encode(),
        "deep.json": ('[{"content": "x", "metadata": ' + deep_meta + "}]").encode(),
    }
    per_row = {
        "nul.csv": (b"content,external_id\nfine,1\nbad\x00,2\nalso fine,3\nlast,4\n", {2}),
        "types.json": (
            json.dumps(
                [
                    {"content": "fine", "external_id": "1"},
                    {"content": ["a", "list"], "external_id": "2"},
                    {"content": "fine", "external_id": {"an": "object"}},
                    {"content": "also fine", "external_id": "4"},
                ]
            ).encode(),
            {2, 3},
        ),
        "numbers.jsonl": (
            b'{"content": "a", "external_id": "1", "n": 1e999}\n'
            + b'{"content": "b", "external_id": "2", "n": '
            + b"7" * 5000
            + b'}\n{"content": "c", "external_id": "3", "m": '
            + deep_meta.encode()
            + b'}\n{"content": "d", "external_id": "4"}\n',
            {1, 2, 3},
        ),
    }
    for name, data in fatal.items():
        coll = unique("fatal")
        path = import_path(app, f"{coll}-{name}")
        path.write_bytes(data)
        assert_error(await client.post(PREVIEW, json={"path": path.name}, headers=operator), 422)
        body = {"path": path.name, "collection": coll}
        assert_error(await client.post(IMPORT, json=body, headers=operator), 422)
        assert_error(await _upload(client, operator, name, data, coll), 422)
        assert _uploads_left(app) == []
        assert await records(client, operator, coll) == []
    for name, (data, bad_rows) in per_row.items():
        coll = unique("rows")
        path = import_path(app, f"{coll}-{name}")
        path.write_bytes(data)
        preview = await client.post(PREVIEW, json={"path": path.name}, headers=operator)
        assert preview.status_code == 200, preview.text
        assert {r["row"] for r in preview.json()["data"]["rows"] if r["error"]} == bad_rows
        resp = await _upload(client, operator, name, data, coll)
        assert resp.status_code == 202, resp.text
        job = await wait_job(client, operator, resp.json()["data"]["job_id"])
        assert job["status"] == "succeeded", job
        assert {e["row"] for e in job["result"]["errors"]} == bad_rows
        stored = {r["external_id"] for r in await records(client, operator, coll)}
        assert stored == {"1", "2", "3", "4"} - {str(n) for n in bad_rows}, name
        assert _uploads_left(app) == []


async def test_a_file_that_breaks_after_staged_batches_fails_and_stores_nothing(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    """Past the rows a request reads (the header probe, the encoding sample), a fatal flaw
    shows only in the job, after batches are staged: the job fails and nothing is merged."""
    coll = unique("late")
    good = [json.dumps({"content": f"item {i}", "external_id": str(i)}) for i in range(450)]
    array = import_path(app, f"{coll}.json")
    # Too deep even to skip: the rest of the array cannot be found.
    array.write_text("[" + ",".join(good) + ',{"content": "x", "m": ' + "[" * 100_000 + "]")
    jsonl = import_path(app, f"{coll}.jsonl")
    padding = "\n".join(good * 2).encode()  # past the 256 KiB the encoding check reads
    jsonl.write_bytes(padding + b"\n" * (300_000 - len(padding)) + b'{"content": "\xff"}\n')
    async with stored_section(app, "operations", {"batch_size": 100}):
        for path, said in ((array, "cannot be read"), (jsonl, "not valid utf-8")):
            job = await run_import(
                client,
                operator,
                expect="failed",
                path=path.name,
                collection=coll,
                max_error_ratio=1,
            )
            assert said in job["error"], job["error"]
            assert job["progress"]["done"] >= 200, "batches were staged before the flaw"
    assert await records(client, operator, coll) == []


async def test_a_json_array_with_broken_punctuation_is_refused(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    """Two arrays joined, a missing, doubled or trailing comma: the file is broken, and
    reading on would drop rows without a word (all of the second array, for one)."""
    coll = unique("punct")
    one = [{"content": f"a{i}", "external_id": f"a{i}"} for i in range(3)]
    cases = {
        "joined": json.dumps(one) + "\n" + json.dumps(one),
        "missing": '[{"content": "a"} {"content": "b"}]',
        "doubled": '[{"content": "a"},, {"content": "b"}]',
        "leading": '[, {"content": "a"}]',
        "trailing": '[{"content": "a"},]',
    }
    for name, text in cases.items():
        path = import_path(app, f"{coll}-{name}.json")
        path.write_text(text)
        for url in (PREVIEW, IMPORT):
            resp = await client.post(
                url, json={"path": path.name, "collection": coll}, headers=operator
            )
            assert "invalid JSON" in assert_error(resp, 422)["details"][0]["message"], name
    # Past the rows a request reads, the job fails and stores nothing.
    many = [{"content": f"b{i}", "external_id": f"b{i}"} for i in range(300)]
    joined = import_path(app, f"{coll}-joined-late.json")
    joined.write_text(json.dumps(many) + json.dumps(one))
    job = await run_import(client, operator, expect="failed", path=joined.name, collection=coll)
    assert "after the array's closing ']'" in job["error"], job["error"]
    assert await records(client, operator, coll) == []
    # Whitespace (and a byte order mark) around the array and its elements is fine.
    fine = import_path(app, f"{coll}-fine.json")
    fine.write_text('\ufeff [ {"content": "x", "external_id": "x"} ,\n{"content": "y"} ]\n\n')
    await run_import(client, operator, path=fine.name, collection=coll)
    assert sorted(r["content"] for r in await records(client, operator, coll)) == ["x", "y"]
