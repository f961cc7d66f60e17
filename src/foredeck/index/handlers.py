"""The `index_rebuild` operation: build a fresh index into a new folder and swap it in."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from foredeck.index import service as index_service
from foredeck.jobs.context import JobContext
from foredeck.jobs.registry import job_handler


class RebuildParams(BaseModel):
    pass


@job_handler(
    "index_rebuild", params=RebuildParams, queue="operations", locks=("index",), max_attempts=1
)
async def run_rebuild(ctx: JobContext) -> dict[str, Any]:
    """Rebuild the FAISS index from the stored vectors (flat or HNSW by size), atomically."""

    async def progress(done: int, total: int, message: str) -> None:
        await ctx.check()
        await ctx.progress(done=done, total=total, message=message)

    return await index_service.rebuild(ctx.runtime, progress)
