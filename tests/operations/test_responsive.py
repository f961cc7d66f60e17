"""Imports and exports leave the server's event loop free: the per-row work runs in an
operations worker process, never in the server's process."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.embedding.parts import EMBEDDER
from foredeck.jobs import controls as job_controls
from foredeck.kit.runtime import runtime_of
from foredeck.operations.exports import writer
from foredeck.operations.imports import mapping, staging
from foredeck.operations.offload import pool
from tests.conftest import unique
from tests.operations.helpers import import_path, records, run_export, run_import
from tests.operations.test_large import write_csv

# Generous: before the worker process, stalls of 200-500 ms (full garbage collections over the
# server's heap) happened several times per 200k-row import; now they stay near 20 ms.
MAX_STALL_S = 0.5


@contextlib.contextmanager
def row_work_refused_here(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every per-row function fail in this process (the worker process is untouched).

    Functions the server sends to the worker by name are not patched: pickle would refuse."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("per-row work ran in the server's process")

    with monkeypatch.context() as patch:
        for target, name in (
            (mapping, "converter"),
            (staging, "_stage"),
            (writer, "_record_batch"),
            (writer._JSONLWriter, "write"),
            (writer._ArrowWriter, "write"),
        ):
            patch.setattr(target, name, refuse)
        yield


@contextlib.asynccontextmanager
async def embedding_paused(app: FastAPI) -> AsyncIterator[None]:
    """Embedding the new records would share this process's loop with the measurement."""
    async with transaction(runtime_of(app).sessionmaker) as session:
        await job_controls.pause_queue(session, "embedding")
    try:
        yield
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await job_controls.resume_queue(session, "embedding")


async def test_row_work_never_runs_in_the_server(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    coll = unique("offload")
    path = import_path(app, f"{coll}.csv")
    write_csv(path, 6_000)
    with row_work_refused_here(monkeypatch):
        job = await run_import(
            client, operator, path=path.name, collection=coll, mapping={"metadata": ["tag"]}
        )
        assert job["result"]["inserted"] == 6_000
        for fmt in ("jsonl", "parquet"):
            export, body = await run_export(client, operator, format=fmt, collection=coll)
            assert export["result"]["rows"] == 6_000 and body


async def test_the_loop_never_stalls_during_an_import(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("lag")
    path = import_path(app, f"{coll}.csv")
    write_csv(path, 60_000)
    stalls: list[float] = []
    done = asyncio.Event()

    async def sample() -> None:
        # A 10 ms sleep that wakes late measures how long the loop could not run anything.
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            stalls.append(time.perf_counter() - start - 0.01)

    # Full collections over what the test session itself has piled up since startup (hundreds
    # of tests' objects) are not the import's doing: start the measurement with none pending.
    gc.collect()
    collections: list[float] = []
    began: list[float] = []

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            began[:] = [time.perf_counter()]
        elif began and info["generation"] == 2:
            collections.append(time.perf_counter() - began[0])

    gc.callbacks.append(timed)
    async with embedding_paused(app):
        sampler = asyncio.create_task(sample())
        try:
            job = await run_import(client, operator, path=path.name, collection=coll)
            _, body = await run_export(client, operator, format="parquet", collection=coll)
        finally:
            done.set()
            await sampler
            gc.callbacks.remove(timed)
    assert job["result"]["inserted"] == 60_000 and body
    assert len(stalls) > 10
    assert max(stalls) < MAX_STALL_S, (
        f"the loop stalled for {max(stalls) * 1000:.0f} ms; "
        f"full collections meanwhile (ms): {[round(c * 1000) for c in collections]}"
    )


async def test_what_startup_built_is_out_of_the_collectors_sight(app: FastAPI) -> None:
    """The server freezes its startup heap (the model among it), so a full collection, which
    stalls the loop for as long as it runs, walks only what was made since."""
    embedder = runtime_of(app)[EMBEDDER]
    assert gc.get_freeze_count() > 100_000
    assert not any(obj is embedder for obj in gc.get_objects(generation=2))


async def test_a_worker_cut_off_mid_call_is_not_reused() -> None:
    """A lease whose call was cut off (its task cancelled) kills that worker."""
    async with pool.lease() as worker:
        first = worker
        assert await worker.call(staging.close) is None
        # What a cancelled call leaves: the worker still busy with it.
        worker.busy = True
    assert not first.alive
    async with pool.lease() as worker:
        assert worker is not first
        assert await worker.call(staging.close) is None


async def test_a_read_error_in_the_worker_fails_the_job_cleanly(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("badbytes")
    path = import_path(app, f"{coll}.csv")
    rows = "".join(f"e{i},row {i} with a few words of text\n" for i in range(20_000))
    # Past the part checked before the job starts: found by the worker, mid-file.
    path.write_bytes(b"external_id,content\n" + rows.encode() + b"e-bad,caf\xe9 \xff\n")
    job = await run_import(client, operator, expect="failed", path=path.name, collection=coll)
    assert "not valid utf-8" in job["error"], job["error"]
    assert "operations worker" not in job["error"] and "Traceback" not in job["error"]
    assert await records(client, operator, coll) == []
