"""Search and the records browser."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from markupsafe import Markup, escape

from foredeck.console import search_backend
from foredeck.console.web import ConsoleRoute, page, parse_when
from foredeck.errors import ValidationFailed
from foredeck.kit.deps import SessionDep
from foredeck.records import service as records_service
from foredeck.records.schemas import EmbeddingState, MemorySort, MemoryType

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PER_PAGE = 25


def highlight(text: str, query: str, limit: int = 400) -> Markup:
    """The text (cut around the first match) with each query word in <mark>."""
    words = [w for w in re.findall(r"\w+", query or "") if len(w) > 1]
    snippet = text
    if len(text) > limit:
        first = min(
            (text.lower().find(w.lower()) for w in words if w.lower() in text.lower()), default=0
        )
        start = max(0, first - limit // 3)
        snippet = ("…" if start else "") + text[start : start + limit] + "…"
    out = escape(snippet)
    if not words:
        return Markup(out)
    pattern = re.compile("|".join(re.escape(str(escape(w))) for w in words), re.IGNORECASE)
    return Markup(pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", str(out)))


def record_filters(query: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The API's record filters from a query string, with the same checks."""
    filters: dict[str, Any] = {}
    if query.get("collection"):
        filters["collection"] = query["collection"]
    if query.get("memory_type"):
        if query["memory_type"] not in {t.value for t in MemoryType}:
            errors["memory_type"] = "Unknown type"
        else:
            filters["memory_type"] = query["memory_type"]
    if query.get("embedding_state"):
        if query["embedding_state"] not in {s.value for s in EmbeddingState}:
            errors["embedding_state"] = "Unknown state"
        else:
            filters["embedding_state"] = query["embedding_state"]
    filters["created_after"] = parse_when("created_after", query.get("created_after"), errors)
    filters["created_before"] = parse_when("created_before", query.get("created_before"), errors)
    return {k: v for k, v in filters.items() if v is not None}


def _page(query: dict[str, str]) -> int:
    try:
        return max(1, min(int(query.get("page", "1")), 1_000_000))
    except ValueError:
        return 1


def _base_url(path: str, query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    kept = {k: v for k, v in query.items() if v and k != "page"}
    return f"{path}?{urlencode(kept)}&" if kept else f"{path}?"


@router.get("/ui/records")
async def records_page(request: Request, session: SessionDep) -> Response:
    """Records with the same filters as the API's list."""
    query = dict(request.query_params)
    errors: dict[str, str] = {}
    filters = record_filters(query, errors)
    if query.get("q"):
        filters["q"] = query["q"]
    sort = query.get("sort", "-created_at")
    if sort not in {s.value for s in MemorySort}:
        errors["sort"] = "Unknown sort"
        sort = "-created_at"
    page_no = _page(query)
    rows: list[Any] = []
    total = 0
    if not errors:
        rows, total = await records_service.list_memories(
            session,
            offset=(page_no - 1) * PER_PAGE,
            limit=PER_PAGE,
            sort=MemorySort(sort),
            **filters,
        )
    return page(
        request,
        "records.html",
        "search",
        status_code=422 if errors else 200,
        title="Records",
        rows=rows,
        total=total,
        page_no=page_no,
        pages=(total + PER_PAGE - 1) // PER_PAGE,
        errors=errors,
        types=[t.value for t in MemoryType],
        states=[s.value for s in EmbeddingState],
        sorts=[s.value for s in MemorySort],
        base=_base_url("/ui/records", query),
        highlight=highlight,
    )


@router.get("/ui/records/{memory_id}")
async def record_page(request: Request, session: SessionDep, memory_id: int) -> Response:
    """One record with its metadata and embedding state."""
    memory = await records_service.get_memory(session, memory_id)
    return page(request, "record.html", "search", title=f"Record {memory_id}", memory=memory)


@router.get("/ui/search")
async def search_page(request: Request, session: SessionDep) -> Response:
    """Semantic, keyword or hybrid search with the record filters."""
    query = dict(request.query_params)
    errors: dict[str, str] = {}
    filters = record_filters(query, errors)
    text = (query.get("q") or "").strip()
    mode = query.get("mode", "hybrid")
    if mode not in search_backend.MODES:
        errors["mode"] = "Choose semantic, keyword or hybrid"
    limit = 20
    try:
        limit = int(query.get("limit", "20"))
        if not 1 <= limit <= 100:
            raise ValueError
    except ValueError:
        errors["limit"] = "A number from 1 to 100"
    results: list[dict[str, Any]] = []
    note = None
    if text and not errors:
        try:
            results, note = await search_backend.search(
                request, session, text=text, mode=mode, limit=limit, filters=filters
            )
        except ValidationFailed as exc:
            for d in exc.details:
                errors[str(d.get("field") or "q")] = str(d.get("message"))
            if not exc.details:
                errors["q"] = exc.message
    return page(
        request,
        "search.html",
        "search",
        status_code=422 if errors else 200,
        title="Search",
        text=text,
        mode=mode,
        limit=limit,
        results=results,
        note=note,
        errors=errors,
        modes=search_backend.MODES,
        types=[t.value for t in MemoryType],
        states=[s.value for s in EmbeddingState],
        highlight=highlight,
    )
