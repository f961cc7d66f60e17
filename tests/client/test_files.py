"""Uploads and downloads through foredeck.client over real HTTP: multipart parameters of the
generated methods, and bodies streamed to a path or a file object instead of memory."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import httpx
import pytest

from foredeck.client import AsyncClient, Client, ForedeckError
from foredeck.contracts import ColumnMapping, JobRead
from tests.client.test_client import _key
from tests.conftest import unique

TERMINAL = ("succeeded", "failed", "cancelled")


def _names(folder: Path) -> set[str]:
    """The files in folder: a download in progress is NAME.part, renamed once complete."""
    return {p.name for p in folder.iterdir()}


async def _finished(fd: AsyncClient, job_id: str) -> JobRead:
    for _ in range(2400):
        job = await fd.get_job(job_id)
        if job.status in TERMINAL:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


async def test_uploads_as_multipart(
    live_url: str, client: httpx.AsyncClient, operator: dict, tmp_path: Path
) -> None:
    key = await _key(client, operator)
    collection = unique("up")
    source = tmp_path / "rows.csv"
    source.write_text("key,body,topic\n" + "".join(f"r{i},tide {i},sea\n" for i in range(30)))
    mapping = ColumnMapping(content="body", external_id="key", metadata=["topic"])
    async with AsyncClient(live_url, key) as fd:
        # A path: the client opens, streams and closes it; form fields typed as in ImportParams.
        ref = await fd.start_import(
            file=source, collection=collection, mapping=mapping, max_error_ratio=0.5
        )
        job = await _finished(fd, ref.job_id)
        assert job.status == "succeeded" and job.result["inserted"] == 30, job
        page = await fd.list_memories(collection=collection, per_page=50)
        assert {m.external_id for m in page.data} == {f"r{i}" for i in range(30)}
        assert page.data[0].metadata == {"topic": "sea"}
        # An open file and a (filename, bytes) tuple work too; a dict mapping goes as JSON.
        with source.open("rb") as fh:
            ref = await fd.start_import(
                file=fh, collection=unique("up"), mode="append", mapping={"content": "body"}
            )
        assert (await _finished(fd, ref.job_id)).result["inserted"] == 30
        lines = b"".join(json.dumps({"content": f"line {i}"}).encode() + b"\n" for i in range(3))
        ref = await fd.start_import(file=("notes.jsonl", lines), collection=unique("up"))
        assert (await _finished(fd, ref.job_id)).result["inserted"] == 3
        # The server's checks apply to the form as to JSON.
        with pytest.raises(ForedeckError) as err:
            await fd.start_import(file=source, collection=collection, mapping={"content": "x"})
        assert err.value.status == 422
        # A JSON body and an upload are two ways to call it, not one.
        with pytest.raises(TypeError):
            await fd.start_import({"source": "url", "url": "http://x"}, file=source)
        with pytest.raises(TypeError):
            await fd.start_import(collection=collection)


async def test_downloads_stream_to_a_path_or_file(
    live_url: str, client: httpx.AsyncClient, operator: dict, tmp_path: Path
) -> None:
    key = await _key(client, operator)
    collection = unique("down")
    rows = "".join(
        json.dumps({"content": f"buoy {i}", "external_id": f"b{i}"}) + "\n" for i in range(40)
    )
    seen: list[tuple[int, int | None]] = []
    target = tmp_path / "export.jsonl"
    async with AsyncClient(live_url, key) as fd:
        ref = await fd.start_import(file=("b.jsonl", rows.encode()), collection=collection)
        assert (await _finished(fd, ref.job_id)).status == "succeeded"
        ref = await fd.start_export({"format": "jsonl", "collection": collection})
        export = await _finished(fd, ref.job_id)
        resp = await fd.download_dataset(
            export.id, to=target, progress=lambda done, total: seen.append((done, total))
        )
        # Written in chunks, never kept: the response has no body to read afterwards.
        assert resp.status_code == 200
        with pytest.raises(httpx.ResponseNotRead):
            _ = resp.content
        written = target.read_bytes()
        assert {json.loads(line)["external_id"] for line in written.splitlines()} == {
            f"b{i}" for i in range(40)
        }
        assert seen and seen[-1][0] == len(written)
        assert _names(tmp_path) == {"export.jsonl"}
        # An error envelope still raises, and leaves no file behind.
        missing = tmp_path / "missing.jsonl"
        with pytest.raises(ForedeckError) as err:
            await fd.download_dataset("no-such-job", to=missing)
        assert err.value.status == 404
        assert _names(tmp_path) == {"export.jsonl"}

    def sync_downloads() -> tuple[bytes, httpx.Response, Path]:
        with Client(live_url, key) as fd:
            buffer = io.BytesIO()
            fd.download_dataset(export.id, to=buffer)
            snap = tmp_path / "index.tar"
            return buffer.getvalue(), fd.download_index_snapshot(to=snap), snap

    buffered, snap_resp, snap = await asyncio.to_thread(sync_downloads)
    assert buffered == written
    assert snap_resp.headers["X-Index-Checksum"] and snap.stat().st_size > 0
