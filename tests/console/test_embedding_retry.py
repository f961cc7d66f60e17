"""Retrying failed embeddings from the console's Index page."""

from __future__ import annotations

from contextlib import aclosing

from fastapi import FastAPI
from sqlalchemy import func, select

from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.models.records import Memory
from tests.conftest import unique
from tests.console.helpers import HTMX, console_client


async def _failed_count(app: FastAPI) -> int:
    async with runtime_of(app).sessionmaker() as session:
        query = select(func.count()).where(Memory.embedding_state == "failed")
        return int(await session.scalar(query) or 0)


async def test_retry_failed_embeddings_from_the_index_page(app: FastAPI) -> None:
    async with transaction(runtime_of(app).sessionmaker) as session:
        memory = Memory(
            content=f"a record whose provider was down {unique()}",
            collection=unique("retry"),
            content_hash="0" * 64,
            embedding_state="failed",
            embedding_attempts=3,
            embedding_error="provider is down",
        )
        session.add(memory)
        await session.flush()
        memory_id = memory.id
    operator, csrf = await console_client(app, "operator")
    viewer, viewer_csrf = await console_client(app, "viewer")
    async with aclosing(operator), aclosing(viewer):
        failed = await _failed_count(app)
        page = await operator.get("/ui/index")
        assert page.status_code == 200
        noun = "record" if failed == 1 else "records"
        assert f"Retry the {failed} {noun} whose embedding failed?" in page.text
        seen = await viewer.get("/ui/index")
        assert seen.status_code == 200 and "/ui/index/retry-embeddings" not in seen.text
        refused = await viewer.post(
            "/ui/index/retry-embeddings", headers={**HTMX, "X-CSRF-Token": viewer_csrf}
        )
        assert refused.status_code == 403 and await _failed_count(app) == failed

        retried = await operator.post(
            "/ui/index/retry-embeddings", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert retried.status_code == 204
        assert f"Queued {failed} failed {noun} for embedding again" in retried.headers["HX-Trigger"]
    async with runtime_of(app).sessionmaker() as session:
        row = await session.get(Memory, memory_id)
        assert row is not None and row.embedding_state != "failed"
