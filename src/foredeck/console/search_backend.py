"""Search for the console: the index domain's search service, keyword search before it exists."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.console.backends import service
from foredeck.records import service as records_service

MODES = ("semantic", "keyword", "hybrid")


async def search(
    request: Request,
    session: AsyncSession,
    *,
    text: str,
    mode: str,
    limit: int,
    filters: dict[str, Any],
) -> tuple[list[dict[str, Any]], str | None]:
    """[{memory, score}] for a query, and a note when the mode had to fall back."""
    index = service("index", "search")
    if index is not None and hasattr(index, "search"):
        hits = await index.search(
            request.app.state, session, query=text, mode=mode, limit=limit, **filters
        )
        return [{"memory": h.memory, "score": h.score} for h in hits], None
    stmt = records_service.filtered_query(q=text, **filters).limit(limit)
    rows = list(await session.scalars(stmt))
    note = None
    if mode != "keyword":
        note = "Semantic search is not available yet, so these are keyword matches."
    return [{"memory": r, "score": None} for r in rows], note
