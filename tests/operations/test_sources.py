"""Uploads (multipart, size limit), URL imports (guard, local server) and Google Sheets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.settings import service as settings_service
from tests.conftest import assert_error, unique
from tests.operations.helpers import records, run_export, run_import, wait_job
from tests.settings.fake_google import FakeGoogle, make_service_account


async def test_upload_multipart(client: httpx.AsyncClient, app: FastAPI, operator: dict) -> None:
    coll = unique("up")
    body = "external_id;content;memory_type\n1;uploaded one;fact\n2;uploaded two;note\n"
    resp = await client.post(
        "/api/v1/operations/import",
        files={"file": ("my data.csv", body.encode(), "text/csv")},
        data={"collection": coll, "mapping": json.dumps({"metadata": "*"})},
        headers=operator,
    )
    assert resp.status_code == 202, resp.text
    job = await wait_job(client, operator, resp.json()["data"]["job_id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["inserted"] == 2
    rows = await records(client, operator, coll)
    assert [r["content"] for r in rows] == ["uploaded one", "uploaded two"]
    uploads = runtime_of(app).config.path("imports") / "uploads"
    assert not any(p.is_file() for p in uploads.rglob("*")), "the upload is removed after the job"

    bad = await client.post(
        "/api/v1/operations/import",
        files={"file": ("x.csv", b"title\nno content column\n", "text/csv")},
        data={"collection": coll},
        headers=operator,
    )
    assert assert_error(bad, 422)["details"][0]["field"] == "mapping.content"
    empty = await client.post(
        "/api/v1/operations/import",
        files={"file": ("x.csv", b"", "text/csv")},
        data={"collection": coll},
        headers=operator,
    )
    assert_error(empty, 422)
    no_file = await client.post(
        "/api/v1/operations/import",
        data={"collection": coll},
        files={"other": ("x.csv", b"content\nx\n", "text/csv")},
        headers=operator,
    )
    assert assert_error(no_file, 422)["details"][0]["field"] == "file"
    bad_mode = await client.post(
        "/api/v1/operations/import",
        files={"file": ("x.csv", b"content\nx\n", "text/csv")},
        data={"collection": coll, "mode": "sideways"},
        headers=operator,
    )
    assert assert_error(bad_mode, 422)["details"][0]["field"] == "mode"
    assert not any(p.is_file() for p in uploads.rglob("*"))


async def test_upload_over_the_limit_is_413(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    config = runtime_of(app).config
    old = config.max_upload_bytes
    config.max_upload_bytes = 4096
    try:
        resp = await client.post(
            "/api/v1/operations/import",
            files={"file": ("big.csv", b"content\n" + b"x" * 10_000, "text/csv")},
            data={"collection": unique("big")},
            headers=operator,
        )
    finally:
        config.max_upload_bytes = old
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE")


async def test_url_guard_refuses_without_a_job(client: httpx.AsyncClient, operator: dict) -> None:
    coll = unique("url")
    for url in (
        "http://127.0.0.2/data.csv",
        "http://0.0.0.0/data.csv",
        "http://localhost:8000/data.csv",
        "http://[::1]/data.csv",
        "http://2130706433/data.csv",
        "ftp://127.0.0.1/data.csv",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1/x.csv",
    ):
        resp = await client.post(
            "/api/v1/operations/import",
            json={"source": "url", "url": url, "collection": coll},
            headers=operator,
        )
        err = assert_error(resp, 422)
        assert err["details"][0]["field"] == "url", (url, err)
    status = await client.get("/api/v1/operations/import/status", headers=operator)
    latest = status.json()["data"]["latest"]
    assert latest is None or coll not in json.dumps(latest)


@pytest.fixture
def csv_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/data.csv")
                self.end_headers()
                return
            if self.path != "/data.csv":
                self.send_response(404)
                self.end_headers()
                return
            data = b"external_id,content\nu1,from the web\nu2,second line\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


async def test_url_import_with_private_hosts_allowed(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, operator: dict, csv_server: str
) -> None:
    coll = unique("web")
    put = await client.put(
        "/api/v1/settings/operations", json={"allow_private_urls": True}, headers=admin
    )
    assert put.status_code == 200, put.text
    try:
        job = await run_import(
            client, operator, source="url", url=f"{csv_server}/redirect", collection=coll
        )
        assert job["result"]["inserted"] == 2
        assert [r["content"] for r in await records(client, operator, coll)] == [
            "from the web",
            "second line",
        ]
        missing = await run_import(
            client,
            operator,
            expect="failed",
            source="url",
            url=f"{csv_server}/nothing.csv",
            collection=coll,
        )
        assert "404" in missing["error"]
        dead = await run_import(
            client,
            operator,
            expect="failed",
            source="url",
            url="http://127.0.0.1:9/data.csv",
            collection=coll,
        )
        assert "unreachable" in dead["error"]
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await settings_service.delete_section(session, "operations")
    assert len(await records(client, operator, coll)) == 2


async def configure_sheets(
    client: httpx.AsyncClient, app: FastAPI, admin: dict, fake: FakeGoogle, sid: str
) -> None:
    name = f"{unique('sa')}.json"
    fake.public_keys.append(make_service_account(runtime_of(app).config.path("credentials") / name))
    put = await client.put("/api/v1/settings/credentials", json={"path": name}, headers=admin)
    assert put.status_code == 200, put.text
    sheets = {
        "api_base_url": fake.base_url,
        "token_url": fake.token_url,
        "sheets": [
            {"name": "incoming", "spreadsheet_id": sid, "range": "Rows"},
            {"name": "outgoing", "spreadsheet_id": sid, "range": "Export"},
        ],
    }
    put = await client.put("/api/v1/settings/sheets", json=sheets, headers=admin)
    assert put.status_code == 200, put.text


async def test_sheet_import_and_export(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin: dict,
    operator: dict,
    viewer: dict,
    fake_google: FakeGoogle,
) -> None:
    sid = unique("sheet") + "xyz"
    rows: list[list[Any]] = [["external_id", "content", "memory_type", "score"]]
    rows += [[f"s{i}", f"sheet row {i}", "fact", i] for i in range(12)]
    rows.append(["s99", "short row"])  # trailing empty cells are omitted by the API
    fake_google.add_spreadsheet(sid, {"Rows": rows, "Export": []})
    await configure_sheets(client, app, admin, fake_google, sid)
    coll = unique("sh")
    job = await run_import(
        client,
        operator,
        source="sheet",
        sheet="incoming",
        collection=coll,
        mapping={"metadata": ["score"]},
    )
    assert job["result"]["inserted"] == 13, job
    got = await records(client, viewer, coll)
    assert got[0]["metadata"] == {"score": 0} and got[-1]["content"] == "short row"
    assert fake_google.unauthorized == 0

    export, _ = await run_export(
        client, operator, format="sheet", sheet="outgoing", collection=coll
    )
    assert export["result"]["rows"] == 13
    written = fake_google.spreadsheets[sid]["Export"]
    assert written[0][:5] == ["id", "external_id", "collection", "memory_type", "content"]
    assert len(written) == 14

    back = unique("shb")
    again = await run_import(client, operator, source="sheet", sheet="outgoing", collection=back)
    assert again["result"]["inserted"] == 13
    assert sorted((r["external_id"], r["content"], r["metadata"]) for r in got) == sorted(
        (r["external_id"], r["content"], r["metadata"]) for r in await records(client, viewer, back)
    )

    unknown = await client.post(
        "/api/v1/operations/import",
        json={"source": "sheet", "sheet": "nope", "collection": coll},
        headers=operator,
    )
    assert assert_error(unknown, 422)["details"][0]["field"] == "sheet"
    no_header = await client.post(
        "/api/v1/operations/import",
        json={
            "source": "sheet",
            "sheet": "incoming",
            "collection": coll,
            "mapping": {"content": "missing"},
        },
        headers=operator,
    )
    assert assert_error(no_header, 422)["details"][0]["field"] == "mapping.content"
