"""Search: semantic (FAISS), keyword (SQLite FTS5 / PostgreSQL tsvector) and hybrid (RRF)."""

from __future__ import annotations

import asyncio
import html
import re
import time
from typing import Any

from sqlalchemy import column, desc, func, literal_column, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.index.schemas import SearchHit, SearchMode, SearchRequest, SearchResult
from foredeck.models.records import Memory
from foredeck.records import service as records_service
from foredeck.records.schemas import MemoryOut

RRF_K = 60
WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 32
SNIPPET_CHARS = 80
FTS = table("memories_fts", column("rowid"))
PG_CONFIG: Any = literal_column("'english'::regconfig")


def terms_of(query: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in WORD.findall(query.lower()):
        seen.setdefault(word, None)
    return list(seen)[:MAX_TERMS]


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


async def keyword_ids(
    session: AsyncSession, query: str, n: int, filters: dict[str, Any]
) -> list[tuple[int, float]]:
    """Full-text matches, best first, with a score where higher is better."""
    terms = terms_of(query)
    if not terms:
        return []
    base = records_service.filtered_query(**filters)
    if session.get_bind().dialect.name == "postgresql":
        tsquery = func.to_tsquery(PG_CONFIG, " | ".join(f"'{t}'" for t in terms))
        tsvector = func.to_tsvector(PG_CONFIG, Memory.content)
        score = func.ts_rank_cd(tsvector, tsquery).label("score")
        stmt = (
            base.with_only_columns(Memory.id, score)
            .where(tsvector.op("@@")(tsquery))
            .order_by(desc("score"), Memory.id)
            .limit(n)
        )
        rows = (await session.execute(stmt)).all()
        return [(int(i), float(s)) for i, s in rows]
    match = " OR ".join(f'"{t}"' for t in terms)
    rank: Any = literal_column("bm25(memories_fts)")
    stmt = (
        base.with_only_columns(Memory.id, rank.label("rank"))
        .join(FTS, FTS.c.rowid == Memory.id)
        .where(text("memories_fts MATCH :fts_match").bindparams(fts_match=match))
        .order_by(rank, Memory.id)
        .limit(n)
    )
    rows = (await session.execute(stmt)).all()
    # bm25() is lower-is-better and negative; flip it so every score is higher-is-better.
    return [(int(i), -float(r)) for i, r in rows]


async def semantic_ids(
    session: AsyncSession, state: Any, query: str, n: int, filters: dict[str, Any]
) -> tuple[str, list[tuple[int, float]]]:
    """(model, nearest records by cosine similarity of the query embedded with that model)."""
    manager = state.index_manager
    await manager.sync(state.sessionmaker)
    # One pair: during a model switch the previous model answers until re-embedding ends.
    embedder, vindex = manager.serving(state.embedder)
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


def fuse(*ranked: list[tuple[int, float]]) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: robust to the two lists' incomparable score scales."""
    scores: dict[int, float] = {}
    for hits in ranked:
        for rank, (memory_id, _) in enumerate(hits):
            scores[memory_id] = scores.get(memory_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


async def search(session: AsyncSession, state: Any, body: SearchRequest) -> SearchResult:
    """Run one search and hydrate the hits from the database (stale index entries drop out)."""
    started = time.perf_counter()
    filters = _filters(body)
    pool = max(body.k * 4, 50) if body.mode == SearchMode.hybrid else body.k + 10
    semantic: list[tuple[int, float]] = []
    keyword: list[tuple[int, float]] = []
    model = state.index_manager.model
    if body.mode in (SearchMode.semantic, SearchMode.hybrid):
        model, semantic = await semantic_ids(session, state, body.query, pool, filters)
    if body.mode in (SearchMode.keyword, SearchMode.hybrid):
        keyword = await keyword_ids(session, body.query, pool, filters)
    if body.mode == SearchMode.semantic:
        ranked = semantic
    elif body.mode == SearchMode.keyword:
        ranked = keyword
    else:
        ranked = fuse(semantic, keyword)
    sem, kw = dict(semantic), dict(keyword)
    wanted = [memory_id for memory_id, _ in ranked[: body.k + 10]]
    rows: dict[int, Any] = {}
    reader = getattr(state, "record_reader", None)
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
        hits.append(
            SearchHit(
                rank=len(hits) + 1,
                score=round(score, 6),
                semantic_score=sem.get(memory_id),
                keyword_score=kw.get(memory_id),
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
