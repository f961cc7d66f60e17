"""Generation jobs end to end: chunks, previews, pause/resume/cancel/retry, merges, bad input."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
from fastapi import FastAPI

from foredeck.generator import storage
from foredeck.kit.runtime import runtime_of
from tests.conftest import assert_error, unique

DEADLINE = 120.0

FIELDS = [
    {"name": "id", "type": "uuid", "unique": True},
    {"name": "name", "type": "name"},
    {"name": "email", "type": "email", "unique": True},
    {"name": "age", "type": "integer", "min": 18, "max": 90},
    {"name": "score", "type": "float", "min": 0, "max": 1, "precision": 3},
    {"name": "joined", "type": "date"},
    {"name": "country", "type": "choice", "choices": ["US", "DE", "FR"]},
]


async def wait_job(
    client: httpx.AsyncClient,
    headers: dict,
    job_id: str,
    statuses: tuple[str, ...],
    predicate: Any = None,
) -> dict[str, Any]:
    """Poll until the job reaches a status (the deadline is an upper bound, not an assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    job: dict[str, Any] = {}
    while loop.time() < end:
        job = (await client.get(f"/api/v1/jobs/{job_id}", headers=headers)).json()["data"]
        if job["status"] in statuses and (predicate is None or predicate(job)):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}: {job}")


async def create(client: httpx.AsyncClient, headers: dict, **schema: Any) -> str:
    body = {"schema": {"name": unique("ds"), "fields": FIELDS, **schema}}
    resp = await client.post("/api/v1/datasets", json=body, headers=headers)
    assert resp.status_code == 202, resp.text
    return resp.json()["data"]["job_id"]  # type: ignore[no-any-return]


async def control(client: httpx.AsyncClient, headers: dict, job_id: str, action: str) -> dict:
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/control", json={"action": action}, headers=headers
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def chunks(client: httpx.AsyncClient, headers: dict, job_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/jobs/{job_id}/chunks", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


async def events(client: httpx.AsyncClient, headers: dict, job_id: str) -> list[dict]:
    resp = await client.get(f"/api/v1/jobs/{job_id}/events/history?limit=1000", headers=headers)
    return resp.json()["data"]  # type: ignore[no-any-return]


async def test_generate_preview_regenerate_and_download(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    job_id = await create(client, operator, rows=2500, chunk_size=1000, seed=11, format="csv")
    job = await wait_job(client, viewer, job_id, ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"]["done"] == 2500 and job["progress"]["percent"] == 100
    assert job["result"]["chunks"] == 3
    listing = await chunks(client, viewer, job_id)
    assert [c["status"] for c in listing["chunks"]] == ["done"] * 3
    assert [c["rows"] for c in listing["chunks"]] == [1000, 1000, 500]
    sums = [c["checksum"] for c in listing["chunks"]]
    assert all(len(s) == 64 for s in sums)
    assert [
        e["data"]["chunk"]
        for e in await events(client, viewer, job_id)
        if e["kind"] == "chunk_done"
    ] == [0, 1, 2]

    preview = await client.get(f"/api/v1/jobs/{job_id}/chunks/2?limit=5", headers=viewer)
    data = preview.json()["data"]
    assert data["rows"] == 500 and len(data["data"]) == 5 and data["columns"][0] == "id"
    as_csv = await client.get(f"/api/v1/jobs/{job_id}/chunks/2?format=csv&limit=5", headers=viewer)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["id"] for r in rows] == [r["id"] for r in data["data"]]

    # Regenerating a chunk gives the same rows; a seed override gives other rows.
    again = await client.post(f"/api/v1/jobs/{job_id}/chunks/1", headers=operator)
    assert again.status_code == 200 and again.json()["data"]["checksum"] == sums[1]
    assert_error(await client.post(f"/api/v1/jobs/{job_id}/chunks/1", headers=viewer), 403)

    first = await client.post(f"/api/v1/jobs/{job_id}/download", json={}, headers=operator)
    assert first.status_code == 200, first.text
    info = first.json()["data"]
    assert info["status"] == "ready" and info["format"] == "csv" and info["rows"] == 2500
    path = Path(runtime_of(app).config.path("jobs", job_id)) / "dataset.csv"
    assert storage.file_sha256(path) == info["checksum"]

    other = await client.post(f"/api/v1/jobs/{job_id}/chunks/1", json={"seed": 5}, headers=operator)
    assert other.json()["data"]["checksum"] != sums[1]
    assert other.json()["data"]["overrides"] == {"seed": 5}
    remerged = await client.post(
        f"/api/v1/jobs/{job_id}/download", json={"format": "csv"}, headers=operator
    )
    assert remerged.json()["data"]["checksum"] != info["checksum"]
    ids = [r["id"] for r in csv.DictReader(path.open())]
    assert len(ids) == 2500 == len(set(ids))


async def test_same_seed_gives_identical_files_in_every_format(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    a = await create(client, operator, rows=1500, chunk_size=600, seed=77)
    b = await create(client, operator, rows=1500, chunk_size=600, seed=77)
    for job_id in (a, b):
        assert (await wait_job(client, operator, job_id, ("succeeded", "failed")))[
            "status"
        ] == "succeeded"
    sums_a = [c["checksum"] for c in (await chunks(client, operator, a))["chunks"]]
    sums_b = [c["checksum"] for c in (await chunks(client, operator, b))["chunks"]]
    assert sums_a == sums_b
    files: dict[str, Path] = {}
    for fmt in ("json", "jsonl", "csv", "parquet"):
        got = []
        for job_id in (a, b):
            resp = await client.post(
                f"/api/v1/jobs/{job_id}/download",
                json={"format": fmt, "force_remerge": True},
                headers=operator,
            )
            assert resp.status_code == 200, resp.text
            got.append(resp.json()["data"]["checksum"])
        assert got[0] == got[1], fmt
        files[fmt] = Path(runtime_of(app).config.path("jobs", a)) / f"dataset.{fmt}"
    reference = storage.json_rows(pq.read_table(files["parquet"]))
    assert json.loads(files["json"].read_text()) == reference
    assert [json.loads(x) for x in files["jsonl"].read_text().splitlines()] == reference
    assert [r["email"] for r in csv.DictReader(files["csv"].open())] == [
        r["email"] for r in reference
    ]


async def test_pause_resume_keeps_hand_made_chunks(
    client: httpx.AsyncClient, operator: dict
) -> None:
    job_id = await create(
        client, operator, rows=300_000, chunk_size=1500, seed=3, fields=FIELDS[:4]
    )
    await wait_job(
        client, operator, job_id, ("running",), predicate=lambda j: j["progress"]["done"] > 0
    )
    assert (await control(client, operator, job_id, "pause"))["status"] == "paused"
    busy = await client.post(f"/api/v1/jobs/{job_id}/chunks/0", headers=operator)
    assert busy.status_code == 200  # paused jobs accept hand-made chunks
    last = 199
    made = await client.post(
        f"/api/v1/jobs/{job_id}/chunks/{last}", json={"seed": 9}, headers=operator
    )
    assert made.status_code == 200, made.text
    assert (await control(client, operator, job_id, "resume"))["status"] in ("running", "queued")
    job = await wait_job(client, operator, job_id, ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    listing = await chunks(client, operator, job_id)
    assert all(c["status"] == "done" for c in listing["chunks"])
    assert listing["chunks"][last]["overrides"] == {"seed": 9}
    assert listing["chunks"][last]["checksum"] == made.json()["data"]["checksum"]


async def test_cancel_then_retry_resumes_at_next_chunk(
    client: httpx.AsyncClient, operator: dict
) -> None:
    job_id = await create(
        client, operator, rows=300_000, chunk_size=1500, seed=4, fields=FIELDS[:4]
    )
    await wait_job(
        client,
        operator,
        job_id,
        ("running",),
        predicate=lambda j: (j["checkpoint"] or {}).get("next_chunk", 0) > 0,
    )
    await control(client, operator, job_id, "cancel")
    cancelled = await wait_job(client, operator, job_id, ("cancelled",))
    stopped_at = cancelled["checkpoint"]["next_chunk"]
    listing = await chunks(client, operator, job_id)
    assert any(c["status"] == "pending" for c in listing["chunks"])
    assert_error(
        await client.post(f"/api/v1/jobs/{job_id}/download", headers=operator),
        409,
        "CHUNKS_MISSING",
    )
    await control(client, operator, job_id, "retry")
    job = await wait_job(client, operator, job_id, ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    resumed = [e for e in await events(client, operator, job_id) if e["kind"] == "resumed"]
    assert resumed and resumed[-1]["data"]["next_chunk"] >= stopped_at > 0
    ids = set()
    for c in (await chunks(client, operator, job_id))["chunks"][:3]:
        assert c["status"] == "done"
    resp = await client.get(f"/api/v1/jobs/{job_id}/chunks/0?limit=1000", headers=operator)
    ids |= {r["id"] for r in resp.json()["data"]["data"]}
    assert len(ids) == 1000


async def test_big_merge_runs_as_a_job(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    job_id = await create(
        client,
        operator,
        rows=250_000,
        chunk_size=50_000,
        seed=5,
        fields=[{"name": "n", "type": "integer", "unique": True}],
    )
    await wait_job(client, operator, job_id, ("succeeded",))
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/download", json={"format": "jsonl"}, headers=operator
    )
    assert resp.status_code == 202, resp.text
    info = resp.json()["data"]
    assert info["status"] == "merging" and info["merge_job_id"]
    merge = await wait_job(client, operator, info["merge_job_id"], ("succeeded", "failed"))
    assert merge["status"] == "succeeded", merge["error"]
    ready = await client.post(
        f"/api/v1/jobs/{job_id}/download", json={"format": "jsonl"}, headers=operator
    )
    assert ready.status_code == 200 and ready.json()["data"]["rows"] == 250_000
    path = Path(runtime_of(app).config.path("jobs", job_id)) / "dataset.jsonl"
    with path.open() as fh:
        assert sum(1 for _ in fh) == 250_000


async def test_bad_input_creates_no_job(
    client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    before = (await client.get("/api/v1/jobs?kind=generate", headers=operator)).json()
    impossible = {
        "rows": 100,
        "fields": [{"name": "n", "type": "integer", "min": 1, "max": 10, "unique": True}],
    }
    resp = await client.post("/api/v1/datasets", json={"schema": impossible}, headers=operator)
    err = assert_error(resp, 422, "INVALID_SCHEMA")
    assert err["details"][0]["field"] == "fields.n"
    resp = await client.post(
        "/api/v1/jobs", json={"kind": "generate", "params": impossible}, headers=operator
    )
    assert_error(resp, 422)
    for body in (
        {"schema": {"fields": [{"name": "x", "type": "hologram"}]}},
        {"schema": {"rows": 10**12, "fields": [{"name": "x", "type": "uuid"}]}},
        {"schema": {"chunk_size": 10**9, "fields": [{"name": "x", "type": "uuid"}]}},
        {
            "schema": {
                "fields": [{"name": "x", "type": "date", "min": "2024-05-01", "max": "2020-01-01"}]
            }
        },
        {"description": "nothing I can read"},
        {},
    ):
        assert_error(await client.post("/api/v1/datasets", json=body, headers=operator), 422)
    assert_error(
        await client.post("/api/v1/datasets", json={"schema": impossible}, headers=viewer), 403
    )
    after = (await client.get("/api/v1/jobs?kind=generate", headers=operator)).json()
    assert after["meta"]["total"] == before["meta"]["total"]


async def test_chunk_endpoints_refuse_what_does_not_exist(
    client: httpx.AsyncClient, operator: dict
) -> None:
    job_id = await create(client, operator, rows=100, chunk_size=50, seed=1)
    await wait_job(client, operator, job_id, ("succeeded",))
    assert_error(await client.get(f"/api/v1/jobs/{job_id}/chunks/2", headers=operator), 404)
    assert_error(await client.post(f"/api/v1/jobs/{job_id}/chunks/-1", headers=operator), 404)
    assert_error(await client.get("/api/v1/jobs/nope/chunks", headers=operator), 404)
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/chunks/0", json={"fields": {"ghost": {"min": 1}}}, headers=operator
    )
    assert_error(resp, 422)
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/chunks/0",
        json={"fields": {"age": {"min": 100, "max": 1}}},
        headers=operator,
    )
    assert_error(resp, 422)
    resp = await client.get(f"/api/v1/jobs/{job_id}/chunks/0?limit=0", headers=operator)
    assert_error(resp, 422)
    listing = await chunks(client, operator, job_id)
    assert all(c["overrides"] is None for c in listing["chunks"])
    other = (await client.post("/api/v1/jobs/test", json={}, headers=operator)).json()["data"]
    assert_error(await client.get(f"/api/v1/jobs/{other['job_id']}/chunks", headers=operator), 404)
