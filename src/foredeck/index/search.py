"""Search: semantic (FAISS), keyword (index.keyword) and hybrid (index.fusion)."""

from __future__ import annotations

import asyncio
import html
import re
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.embedding.parts import EMBEDDER
from foredeck.index.fusion import DEFAULT_WEIGHTS, Fused, fuse
from foredeck.index.keyword import TIER_NAMES, KeywordHit, keyword_hits, parse, terms_of
from foredeck.index.parts import INDEX_MANAGER
from foredeck.index.pool_keyword import pool_hits
from foredeck.index.schemas import SearchHit, SearchMode, SearchRequest, SearchResult
from foredeck.kit.runtime import Runtime
from foredeck.models.records import Memory
from foredeck.records import service as records_service
from foredeck.records.reads import RECORD_READER
from foredeck.records.schemas import MemoryOut

SNIPPET_CHARS = 80
WORD = re.compile(r"\w+", re.UNICODE)


def _filters(body: SearchRequest) -> dict[str, Any]:
    return {
        "collection": body.collection,
        "memory_type": body.memory_type.value if body.memory_type else None,
        "metadata": body.metadata or None,
        "created_after": body.created_after,
        "created_before": body.created_before,
    }


def _has_filters(filters: dict[str, Any]) -> bool:
    return any(v for v in filters.values())


async def semantic_ids(
    session: AsyncSession, runtime: Runtime, query: str, n: int, filters: dict[str, Any]
) -> tuple[str, list[tuple[int, float]]]:
    """(model, nearest records by cosine similarity of the query embedded with that model)."""
    manager = runtime[INDEX_MANAGER]
    await manager.sync(runtime.sessionmaker)
    # One pair: during a model switch the previous model answers until re-embedding ends.
    embedder, vindex = manager.serving(runtime[EMBEDDER])
    if getattr(embedder, "inline", False):
        vector = embedder.encode([query])[0]
    else:
        vector = (await asyncio.to_thread(embedder.encode, [query]))[0]
    allowed: list[int] | None = None
    if _has_filters(filters):
        stmt = records_service.filtered_query(**filters).with_only_columns(Memory.id)
        allowed = [int(i) for i in (await session.scalars(stmt)).all()]
    if vindex.kind == "flat" and vindex.total > 20_000 and allowed is None:
        return embedder.name, await asyncio.to_thread(vindex.search, vector, n, allowed)
    return embedder.name, vindex.search(vector, n, allowed)


def highlight_terms(terms: list[str]) -> frozenset[str]:
    """The word forms to mark: query terms longer than one character, with a light stem so
    "lighthouses" marks for "lighthouse" and vice versa."""
    words = [t for t in terms if len(t) > 1]
    return frozenset({*words, *(f"{t}s" for t in words), *(t.rstrip("s") for t in words)} - {""})


def highlights(content: str, terms: frozenset[str], limit: int = 3) -> list[str]:
    """Up to `limit` escaped fragments around query terms, terms wrapped in <mark>.

    One pass of the word pattern and a set lookup per word: an alternation of the forms with
    word-boundary lookarounds cost ~2.5x as much per hit, and marked the stub of a term cut
    off by the fragment's end."""
    if not terms:
        return []
    spans = [m.span() for m in WORD.finditer(content) if m.group().lower() in terms]
    out: list[str] = []
    last_end = -1
    for i, (found_start, found_end) in enumerate(spans):
        if found_start < last_end:
            continue
        start = max(0, found_start - SNIPPET_CHARS)
        end = min(len(content), found_end + SNIPPET_CHARS)
        first = i
        while first > 0 and spans[first - 1][0] >= start:
            first -= 1
        parts: list[str] = []
        cursor = start
        for word_start, word_end in spans[first:]:
            if word_start >= end:
                break
            end = max(end, word_end)  # a term the window would cut is shown whole
            parts += (content[cursor:word_start], "\x00", content[word_start:word_end], "\x01")
            cursor = word_end
        parts.append(content[cursor:end])
        # Escape once per fragment; the markers survive escaping and become the tags.
        text = html.escape("".join(parts)).replace("\x00", "<mark>").replace("\x01", "</mark>")
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(content) else ""
        out.append(f"{prefix}{text}{suffix}")
        last_end = end
        if len(out) >= limit:
            break
    return out


def _read_many(reader: Any, ids: list[int]) -> list[dict[str, Any]]:
    out = []
    for memory_id in ids:
        row = reader.get(memory_id)
        if row is not None:
            row["metadata_"] = row.pop("metadata")
            out.append(row)
    return out


async def search(session: AsyncSession, runtime: Runtime, body: SearchRequest) -> SearchResult:
    """Run one search and hydrate the hits from the database (stale index entries drop out)."""
    started = time.perf_counter()
    filters = _filters(body)
    parsed = parse(body.query)
    pool = max(body.k * 4, 50) if body.mode == SearchMode.hybrid else body.k + 10
    semantic: list[tuple[int, float]] = []
    keyword: list[KeywordHit] = []
    model = runtime[INDEX_MANAGER].model
    reader = runtime.get(RECORD_READER)
    if body.mode in (SearchMode.semantic, SearchMode.hybrid):
        model, semantic = await semantic_ids(session, runtime, body.query, pool, filters)
    if body.mode == SearchMode.keyword:
        keyword = await keyword_hits(session, body.query, pool, filters, reader=reader)
    elif body.mode == SearchMode.hybrid and not parsed.identifiers:
        # Words only: the every-word tier among the semantic pool (see index.pool_keyword).
        ids = [memory_id for memory_id, _ in semantic]
        keyword = await pool_hits(session, parsed, ids, reader=reader)
    elif body.mode == SearchMode.hybrid:
        min_tier = DEFAULT_WEIGHTS.min_tier
        keyword = await keyword_hits(
            session, body.query, pool, filters, min_tier=min_tier, reader=reader
        )
    # Every hit says where it stands in each list that found it (single lists too).
    if body.mode == SearchMode.hybrid:
        fused = fuse(semantic, keyword, has_identifiers=bool(parsed.identifiers))
    elif body.mode == SearchMode.semantic:
        fused = [Fused(i, s, r + 1, None, None) for r, (i, s) in enumerate(semantic)]
    else:
        fused = [Fused(h.memory_id, h.score, None, r + 1, h.tier) for r, h in enumerate(keyword)]
    ranked = [(f.memory_id, f.score) for f in fused]
    explain = {f.memory_id: f for f in fused}
    sem = dict(semantic)
    kw = {h.memory_id: h.score for h in keyword}
    wanted = [memory_id for memory_id, _ in ranked[: body.k + 10]]
    rows: dict[int, Any] = {}
    if wanted and reader is not None and not _has_filters(filters):
        # SQLite hot path: read-only sqlite3 on the loop, no thread hops (see records.reads);
        # the k best first, the spares only if some of those were deleted meanwhile.
        rows = {r["id"]: r for r in _read_many(reader, wanted[: body.k])}
        if len(rows) < min(body.k, len(wanted)):
            rows.update({r["id"]: r for r in _read_many(reader, wanted[body.k :])})
    elif wanted:
        stmt = records_service.filtered_query(**filters).where(Memory.id.in_(wanted))
        rows = {m.id: m for m in (await session.scalars(stmt)).all()}
    marked = highlight_terms(terms_of(body.query))
    hits: list[SearchHit] = []
    for memory_id, score in ranked:
        memory = rows.get(memory_id)
        if memory is None:
            continue
        content = memory["content"] if isinstance(memory, dict) else memory.content
        why = explain[memory_id]
        hits.append(
            SearchHit(
                rank=len(hits) + 1,
                score=round(score, 6),
                semantic_score=sem.get(memory_id),
                keyword_score=kw.get(memory_id),
                semantic_rank=why.semantic_rank,
                keyword_rank=why.keyword_rank,
                keyword_match=None if why.keyword_tier is None else TIER_NAMES[why.keyword_tier],
                highlights=highlights(content, marked),
                memory=MemoryOut.model_validate(memory),
            )
        )
        if len(hits) >= body.k:
            break
    return SearchResult(
        query=body.query,
        mode=body.mode,
        k=body.k,
        model=model,
        took_ms=round((time.perf_counter() - started) * 1000, 3),
        hits=hits,
    )
