"""Uploads, imports, exports and downloads with the S3 blob store (boto3 against moto's
server on 127.0.0.1): nothing is read from a shared folder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from foredeck.config import Config
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Job
from tests.blobs.conftest import keys, store_of
from tests.blobs.s3server import S3Server
from tests.conftest import assert_error, unique
from tests.operations.helpers import records, wait_job


def local_uploads(app: FastAPI) -> list[Path]:
    return [
        p for p in (runtime_of(app).config.path("imports") / "uploads").rglob("*") if p.is_file()
    ]


async def job_count(app: FastAPI, collection: str) -> int:
    """Jobs for this collection only: other tests' jobs and schedules share the database."""
    async with runtime_of(app).sessionmaker() as session:
        params = (await session.scalars(select(Job.params))).all()
    return sum(1 for p in params if isinstance(p, dict) and p.get("collection") == collection)


CSV = "external_id,content\n" + "".join(f"e{i},row number {i}\n" for i in range(300))


async def upload(client: httpx.AsyncClient, headers: dict, coll: str, body: Any) -> httpx.Response:
    return await client.post(
        "/api/v1/operations/import",
        files={"file": ("data.csv", body, "text/csv")},
        data={"collection": coll, "mapping": json.dumps({"external_id": "external_id"})},
        headers=headers,
    )


async def test_upload_goes_to_s3_and_the_worker_reads_it_from_there(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, s3_store: Any
) -> None:
    coll = unique("s3up")
    resp = await upload(client, operator, coll, CSV.encode())
    assert resp.status_code == 202, resp.text
    # The replica's local copy is gone before the job could start, so the worker that
    # imports the file can only have fetched it from the object store.
    assert local_uploads(app) == []
    job = await wait_job(client, operator, resp.json()["data"]["job_id"])
    assert job["status"] == "succeeded", job
    assert job["result"]["inserted"] == 300
    rows = await records(client, operator, coll)
    assert sorted(r["external_id"] for r in rows) == sorted(f"e{i}" for i in range(300))
    assert keys(s3_store, "imports/") == [], "the upload's object is removed after its job"


async def test_interrupted_upload_leaves_no_object_and_no_job(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, s3_store: Any
) -> None:
    coll = unique("cut")
    boundary = "cutoffboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="collection"\r\n\r\n'
        f"{coll}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\nexternal_id,content\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for i in range(200):
            yield f"e{i},row {i}\n".encode() * 50
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await client.post(
            "/api/v1/operations/import",
            content=body(),
            headers={**operator, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    assert keys(s3_store, "imports/") == []
    assert local_uploads(app) == []
    assert await job_count(app, coll) == 0


async def test_export_is_stored_in_s3_and_streamed_or_redirected(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, s3: S3Server, tmp_path: Path
) -> None:
    coll = unique("s3ex")
    bucket = s3.make_bucket()
    with store_of(app, Config(data_dir=tmp_path, **s3.settings(bucket))) as store:
        resp = await upload(client, operator, coll, CSV.encode())
        assert (await wait_job(client, operator, resp.json()["data"]["job_id"]))["status"] == (
            "succeeded"
        )
        started = await client.post(
            "/api/v1/operations/export",
            json={"collection": coll, "format": "jsonl"},
            headers=operator,
        )
        job = await wait_job(client, operator, started.json()["data"]["job_id"])
        assert job["status"] == "succeeded", job
        key = f"exports/{job['id']}/{job['result']['filename']}"
        assert keys(store, "exports/") == [key]
        assert not (runtime_of(app).config.data_dir / "exports" / job["id"]).exists()
        streamed = await client.get(f"/api/v1/jobs/{job['id']}/download", headers=operator)
        assert streamed.status_code == 200, streamed.text
        lines = [json.loads(x) for x in streamed.content.decode().splitlines()]
        assert sorted(x["external_id"] for x in lines) == sorted(f"e{i}" for i in range(300))
        assert job["result"]["filename"] in streamed.headers["content-disposition"]

    presign = s3.settings(bucket, s3_presign_seconds=120)
    with store_of(app, Config(data_dir=tmp_path, **presign)):
        redirect = await client.get(f"/api/v1/jobs/{job['id']}/download", headers=operator)
        assert redirect.status_code == 307
        location = redirect.headers["location"]
        assert location.startswith(s3.endpoint_url)
        async with httpx.AsyncClient() as outside:
            assert (await outside.get(location)).content == streamed.content

        store.delete(key)
        gone = await client.get(f"/api/v1/jobs/{job['id']}/download", headers=operator)
        assert_error(gone, 404)


async def test_unreachable_store_refuses_uploads_fails_exports_and_shows_in_health(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, s3: S3Server, tmp_path: Path
) -> None:
    settings = s3.settings("fd-any", s3_endpoint_url="http://127.0.0.2:9", s3_connect_timeout_s=0.5)
    coll = unique("down")
    with store_of(app, Config(data_dir=tmp_path, **settings)):
        health = (await client.get("/health")).json()
        assert health["services"]["blob_store"] in ("unreachable", "timeout")
        assert health["status"] in ("degraded", "unhealthy")
        refused = await upload(client, operator, coll, CSV.encode())
        assert_error(refused, 503, "BLOB_STORE_UNAVAILABLE")
        assert local_uploads(app) == []
        assert await job_count(app, coll) == 0
        started = await client.post(
            "/api/v1/operations/export",
            json={"collection": unique("none"), "format": "csv"},
            headers=operator,
        )
        job = await wait_job(client, operator, started.json()["data"]["job_id"])
        assert job["status"] == "failed"
        assert "object store cannot be used: unreachable" in json.dumps(job)
    local = (await client.get("/health")).json()
    assert local["services"]["blob_store"] == "local"
