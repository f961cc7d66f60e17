"""Generated datasets with the S3 blob store (boto3 against moto's server on 127.0.0.1): the
generate job's chunks and the merged files live only in the bucket, and every read (preview,
merge, download, import) works with no local file."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from foredeck.config import Config
from foredeck.generator import remote
from foredeck.kit.runtime import runtime_of
from tests.blobs.conftest import keys, store_of
from tests.blobs.s3server import S3Server
from tests.conftest import unique
from tests.generator.test_datasets import make_dataset
from tests.generator.test_jobs import wait_job


def local_files(app: FastAPI, job_id: str) -> list[Path]:
    folder = runtime_of(app).config.data_dir / "jobs" / job_id
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix in (".parquet", ".csv")]


async def test_a_generated_dataset_is_merged_and_downloaded_from_s3_with_no_local_file(
    client: httpx.AsyncClient,
    app: FastAPI,
    operator: dict,
    viewer: dict,
    s3_store: Any,
    s3: S3Server,
    tmp_path: Path,
) -> None:
    job_id = await make_dataset(client, operator)
    chunks = [k for k in keys(s3_store) if k.startswith(f"jobs/{job_id}/chunks/")]
    assert len(chunks) == 3, chunks  # 300 rows in chunks of 128
    assert local_files(app, job_id) == []

    preview = await client.get(f"/api/v1/jobs/{job_id}/chunks/2", headers=viewer)
    assert preview.status_code == 200, preview.text
    assert preview.json()["data"]["rows"] == 300 - 2 * 128

    made = await client.post(
        f"/api/v1/jobs/{job_id}/download", json={"format": "csv"}, headers=operator
    )
    assert made.status_code == 200, made.text
    assert f"jobs/{job_id}/dataset.csv" in keys(s3_store)
    assert local_files(app, job_id) == []
    got = await client.get(f"/api/v1/jobs/{job_id}/download?format=csv", headers=viewer)
    assert got.status_code == 200, got.text
    assert "attachment" in got.headers["content-disposition"]
    assert len(got.content) == made.json()["data"]["bytes"]
    rows = list(csv.DictReader(io.StringIO(got.text)))
    assert len(rows) == 300 and len({r["id"] for r in rows}) == 300

    # Configured to presign: a redirect to the bucket, which serves the same bytes.
    presigning = Config(data_dir=tmp_path, **s3.settings(s3_store.bucket, s3_presign_seconds=60))
    with store_of(app, presigning):
        moved = await client.get(f"/api/v1/jobs/{job_id}/download?format=csv", headers=viewer)
    assert moved.status_code == 307, moved.text
    location = moved.headers["location"]
    assert location.startswith(s3.endpoint_url)
    async with httpx.AsyncClient() as plain:
        direct = await plain.get(location)
    assert direct.status_code == 200 and direct.content == got.content


async def test_a_generated_dataset_is_imported_through_s3(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, s3_store: Any
) -> None:
    job_id = await make_dataset(client, operator)
    coll = unique("gens3")
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/import",
        json={"collection": coll, "mapping": {"content": "title", "external_id": "id"}},
        headers=operator,
    )
    assert resp.status_code == 202, resp.text
    job = await wait_job(client, operator, resp.json()["data"]["job_id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    listing = (await client.get(f"/api/v1/memories?collection={coll}", headers=operator)).json()
    assert listing["meta"]["total"] == 300
    # The dataset's copy for the import is gone after it; the merged file and chunks stay.
    assert not [k for k in keys(s3_store) if k.startswith("imports/")]
    assert f"jobs/{job_id}/dataset.parquet" in keys(s3_store)
    assert local_files(app, job_id) == []


async def test_the_sweep_removes_stored_files_of_deleted_jobs(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, s3_store: Any
) -> None:
    from foredeck.generator.lifecycle import sweep

    job_id = await make_dataset(client, operator, rows=50)
    orphan = "00000000-dead-4000-8000-00000000abcd"
    s3_store.put(f"jobs/{orphan}/chunks/chunk-000000.parquet", io.BytesIO(b"x"))
    assert orphan in await sweep(runtime_of(app))
    left = keys(s3_store)
    assert not [k for k in left if k.startswith(f"jobs/{orphan}/")]
    assert f"jobs/{job_id}/chunks/chunk-000000.parquet" in left


async def test_llm_text_pools_are_shared_through_s3(
    app: FastAPI, db: Any, s3: S3Server, tmp_path: Path
) -> None:
    from foredeck.generator import textpools
    from foredeck.generator.schemas import DatasetSchema

    schema = DatasetSchema.model_validate(
        {
            "name": unique("pools"),
            "rows": 10,
            "fields": [{"name": "review", "type": "text", "llm_prompt": "a kettle review"}],
        }
    )
    writer_config = Config(data_dir=tmp_path / "a", **s3.settings(s3.make_bucket()))
    reader_config = writer_config.model_copy(update={"data_dir": tmp_path / "b"})
    job_folder = Path("jobs") / "00000000-0000-4000-8000-00000000f00d"
    texts = {"review": ["Boils fast.", "Loud but fine."]}
    textpools.save(writer_config.data_dir / job_folder, texts)
    await remote.publish(writer_config, writer_config.data_dir / job_folder / textpools.FILE_NAME)
    # No LLM is configured: only the stored pool can answer, on a machine that never had it.
    got = await textpools.ensure(db, reader_config, schema, reader_config.data_dir / job_folder)
    assert got == texts
    # The offline `foredeck generate` keeps its pool in a folder of its own, outside the store.
    offline = tmp_path / "offline"
    textpools.save(offline, texts)
    assert await textpools.ensure(db, reader_config, schema, offline) == texts
