"""Telemetry reports the embedding queue depth: records waiting for a vector."""

from __future__ import annotations

from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from foredeck.records import service as records_service
from foredeck.telemetry import service as telemetry_service
from tests.conftest import unique


async def test_snapshot_counts_pending_records(app: FastAPI) -> None:
    coll = unique("tele")
    async with runtime_of(app).sessionmaker() as session:
        if not runtime_of(app).config.is_sqlite:
            # One snapshot for both counts, so background embedding cannot move them apart.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        # On SQLite this first write holds the write lock, so nobody commits in between.
        await records_service.create_memory(session, content="pending 0", collection=coll)
        before = (await telemetry_service.collect(session, 30.0))["pending_embeddings"]
        for i in (1, 2):
            await records_service.create_memory(session, content=f"pending {i}", collection=coll)
        after = (await telemetry_service.collect(session, 30.0))["pending_embeddings"]
        await session.rollback()
    assert before >= 1
    assert after == before + 2
