"""Search for the console through the index domain's search service (the API's own)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.errors import ValidationFailed
from foredeck.index import schemas as index_schemas
from foredeck.index import search as index_search
from foredeck.kit.runtime import get_runtime

MODES = ("semantic", "keyword", "hybrid")
SEARCH_FILTERS = ("collection", "memory_type", "created_after", "created_before")


async def search(
    request: Request,
    session: AsyncSession,
    *,
    text: str,
    mode: str,
    limit: int,
    filters: dict[str, Any],
) -> tuple[list[dict[str, Any]], str | None]:
    """[{memory, score, highlights}] for a query, and a note when something was left out."""
    body = {"query": text, "mode": mode, "k": limit}
    body.update({k: v for k, v in filters.items() if k in SEARCH_FILTERS})
    try:
        request_model = index_schemas.SearchRequest.model_validate(body)
    except ValidationError as exc:
        failed = ValidationFailed.from_pydantic(exc, "The search is not valid", empty="q")
        # The form's field is `q` where the API's is `query`.
        for detail in failed.details:
            detail["field"] = detail["field"].replace("query", "q")
        raise failed from exc
    result = await index_search.search(session, get_runtime(request), request_model)
    note = None
    if "embedding_state" in filters:
        note = "Search ignores the embedding filter; use the records browser for it."
    hits = [
        {
            "memory": h.memory,
            "score": h.score,
            "semantic": h.semantic_score,
            "keyword": h.keyword_score,
            "semantic_rank": h.semantic_rank,
            "keyword_rank": h.keyword_rank,
            "keyword_match": h.keyword_match,
        }
        for h in result.hits
    ]
    return hits, note
