"""Streaming merged files through GET /jobs/{id}/download and importing into records."""

from __future__ import annotations

import csv
import io

import httpx

from foredeck.kit.runtime import runtime_of
from tests.conftest import assert_error, unique
from tests.generator.test_jobs import wait_job

FIELDS = [
    {"name": "id", "type": "uuid", "unique": True},
    {"name": "title", "type": "lorem", "min_length": 4, "max_length": 10},
    {"name": "name", "type": "name"},
    {"name": "age", "type": "integer", "min": 18, "max": 90},
]


async def make_dataset(client: httpx.AsyncClient, headers: dict, rows: int = 300) -> str:
    body = {
        "schema": {
            "name": unique("ds"),
            "fields": FIELDS,
            "rows": rows,
            "chunk_size": 128,
            "seed": 21,
        }
    }
    resp = await client.post("/api/v1/datasets", json=body, headers=headers)
    assert resp.status_code == 202, resp.text
    job_id: str = resp.json()["data"]["job_id"]
    job = await wait_job(client, headers, job_id, ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    return job_id


async def test_download_streams_each_format(
    client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    job_id = await make_dataset(client, operator)
    resp = await client.get(f"/api/v1/jobs/{job_id}/download?format=csv", headers=viewer)
    assert_error(resp, 404, "DOWNLOAD_NOT_READY")
    for fmt, media in (
        ("csv", "text/csv"),
        ("jsonl", "application/x-ndjson"),
        ("json", "application/json"),
        ("parquet", "application/vnd.apache.parquet"),
    ):
        made = await client.post(
            f"/api/v1/jobs/{job_id}/download", json={"format": fmt}, headers=operator
        )
        assert made.status_code == 200, made.text
        got = await client.get(f"/api/v1/jobs/{job_id}/download?format={fmt}", headers=viewer)
        assert got.status_code == 200, got.text
        assert got.headers["content-type"].startswith(media)
        assert "attachment" in got.headers["content-disposition"]
        assert len(got.content) == made.json()["data"]["bytes"]
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(got.text)))
            assert len(rows) == 300 and len({r["id"] for r in rows}) == 300
    assert_error(
        await client.get(f"/api/v1/jobs/{job_id}/download?format=xml", headers=viewer), 422
    )


async def test_import_into_records(client: httpx.AsyncClient, operator: dict) -> None:
    job_id = await make_dataset(client, operator)
    coll = unique("gen")
    bad = await client.post(
        f"/api/v1/jobs/{job_id}/import",
        json={"collection": coll, "mapping": {"content": "nope"}},
        headers=operator,
    )
    err = assert_error(bad, 422)
    assert err["details"][0]["field"] == "mapping.content"
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/import",
        json={
            "collection": coll,
            "mapping": {"content": "title", "external_id": "id", "metadata": ["name", "age"]},
        },
        headers=operator,
    )
    assert resp.status_code == 202, resp.text
    imported = resp.json()["data"]
    assert imported["job"]["kind"] == "import"
    job = await wait_job(client, operator, imported["job_id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    listing = (
        await client.get(f"/api/v1/memories?collection={coll}&per_page=200", headers=operator)
    ).json()
    assert listing["meta"]["total"] == 300
    record = listing["data"][0]
    assert set(record["metadata"]) >= {"name", "age"} and record["external_id"]
    # Importing again upserts by external id: still 300 records.
    again = await client.post(
        f"/api/v1/jobs/{job_id}/import",
        json={"collection": coll, "mapping": {"content": "title", "external_id": "id"}},
        headers=operator,
    )
    job = await wait_job(client, operator, again.json()["data"]["job_id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    listing = (await client.get(f"/api/v1/memories?collection={coll}", headers=operator)).json()
    assert listing["meta"]["total"] == 300


async def test_sweep_removes_files_of_deleted_jobs(
    app, client: httpx.AsyncClient, operator: dict
) -> None:
    from foredeck.generator.lifecycle import sweep

    job_id = await make_dataset(client, operator, rows=50)
    jobs_dir = runtime_of(app).config.path("jobs")
    orphan = jobs_dir / "00000000-dead-4000-8000-000000000000"
    (orphan / "chunks").mkdir(parents=True)
    (orphan / "chunks" / "chunk-000000.parquet").write_bytes(b"x")
    other_kind = jobs_dir / unique("not-a-dataset")
    other_kind.mkdir()
    removed = await sweep(runtime_of(app))
    assert orphan.name in removed and not orphan.exists()
    assert (jobs_dir / job_id / "chunks").is_dir()
    assert other_kind.exists()
    info = (await client.get("/api/v1/info", headers=operator)).json()["data"]
    assert "generator" in info["features_enabled"]
