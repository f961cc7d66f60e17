"""The keyword side of search: one query parser and tiered full-text matching, alike on
SQLite (FTS5, porter + unicode61) and PostgreSQL (tsvector, english).

User text never reaches either full-text syntax: the query is cut into words (runs of letters
and digits) and the match expression is built from those words, each quoted, so quotes,
AND/OR/NOT/NEAR, `*`, `-`, `^`, parentheses and colons are plain text. The same words are
searched on both databases: PostgreSQL's document is the content with ASCII punctuation
replaced by spaces (its parser would otherwise keep `J45.30` or `-78103` as one lexeme where
FTS5 sees two words), and English stop words are dropped on both sides, as PostgreSQL does.

Matches come in tiers, best first: records holding every word, then (for a query with
identifier-shaped parts such as `INC-78103`, `J45.30`, `LH1234`) records holding every
identifier as an exact phrase, then records holding any word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, desc, func, literal_column, table, text
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.models.records import Memory
from foredeck.records import service as records_service

WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 32
FTS = table("memories_fts", column("rowid"))
PG_CONFIG: Any = literal_column("'english'::regconfig")
# PostgreSQL's keyword document: the content with ASCII punctuation read as spaces, so that
# it sees FTS5's words, stored as a generated column with the GIN index on it (migrations 0011
# and 0012 hold the expression). Not in the model: SQLite has no such column.
PG_DOCUMENT: Any = literal_column("memories.content_words")
# PostgreSQL's english stop list: it drops these from documents and queries, so SQLite's
# query drops them too, or the two would disagree on which records hold every word.
STOP_WORDS = frozenset(
    """i me my myself we our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves what which
    who whom this that these those am is are was were be been being have has had having do
    does did doing a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very s t can will
    just don should now""".split()
)

TIER_ALL = 2  # every word of the query
TIER_IDENTIFIERS = 1  # every identifier, as a phrase
TIER_ANY = 0  # at least one word
TIER_NAMES = {TIER_ALL: "all", TIER_IDENTIFIERS: "identifiers", TIER_ANY: "any"}


@dataclass(frozen=True)
class ParsedQuery:
    """Words to match; identifier-shaped chunks are phrases of their words."""

    terms: tuple[str, ...]
    identifiers: tuple[tuple[str, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.terms and not self.identifiers

    def units(self) -> list[tuple[str, ...]]:
        """Every unit to match: identifiers as phrases, other words alone."""
        return [*self.identifiers, *((t,) for t in self.terms)]


@dataclass(frozen=True)
class KeywordHit:
    memory_id: int
    score: float
    tier: int


def is_identifier(chunk: str, words: list[str]) -> bool:
    """A chunk with a digit and at least two letters or digits: a ticket number, a code with
    dots or dashes, a flight number. Such tokens are rare and exact; common words are not."""
    return any(c.isdigit() for c in chunk) and sum(len(w) for w in words) >= 2


def parse(query: str) -> ParsedQuery:
    """Cut the query into words and identifier phrases (deduplicated, at most MAX_TERMS)."""
    terms: dict[str, None] = {}
    identifiers: dict[tuple[str, ...], None] = {}
    count = 0
    for chunk in query.lower().split():
        words = WORD.findall(chunk)
        if not words or count >= MAX_TERMS:
            continue
        if is_identifier(chunk, words):
            identifiers.setdefault(tuple(words[:MAX_TERMS]), None)
            count += len(words)
            continue
        for word in words:
            if word not in STOP_WORDS and count < MAX_TERMS:
                terms.setdefault(word, None)
                count += 1
    return ParsedQuery(tuple(terms), tuple(identifiers))


def terms_of(query: str) -> list[str]:
    """Every word of the query (identifier parts too), for highlighting."""
    parsed = parse(query)
    return [*(w for ident in parsed.identifiers for w in ident), *parsed.terms]


def _fts5_unit(words: tuple[str, ...]) -> str:
    # A double-quoted string is one phrase to FTS5; a quote inside is written twice.
    return '"' + " ".join(w.replace('"', '""') for w in words) + '"'


def _pg_unit(words: tuple[str, ...]) -> str:
    # Words are letters and digits only (WORD), so a quote can never end the literal early.
    quoted = [f"'{w}'" for w in words]
    return quoted[0] if len(quoted) == 1 else "(" + " <-> ".join(quoted) + ")"


def expression(units: list[tuple[str, ...]], joiner: str, dialect: str) -> str:
    """The match expression for FTS5 (`AND`/`OR`) or to_tsquery (`&`/`|`)."""
    if dialect == "postgresql":
        op = {"AND": " & ", "OR": " | "}[joiner]
        return op.join(_pg_unit(u) for u in units)
    return f" {joiner} ".join(_fts5_unit(u) for u in units)


def tiers_of(parsed: ParsedQuery, dialect: str) -> list[tuple[int, str]]:
    """(tier, match expression), best tier first, without repeating an equal expression."""
    units = parsed.units()
    out = [(TIER_ALL, expression(units, "AND", dialect))]
    if parsed.identifiers and parsed.terms:
        out.append((TIER_IDENTIFIERS, expression(list(parsed.identifiers), "AND", dialect)))
    if len(units) > 1:
        out.append((TIER_ANY, expression(units, "OR", dialect)))
    return out


# Without filters the full-text table alone answers on SQLite: no join to memories (tens of
# thousands of primary-key lookups for a common word at 100k records); a row whose record was
# deleted meanwhile drops out at hydration, as a stale vector does.
FTS5_ONLY = (
    "SELECT rowid, bm25(memories_fts) AS rank FROM memories_fts "
    "WHERE memories_fts MATCH :fts_match ORDER BY rank, rowid LIMIT :n"
)
# An identifier phrase matches a handful of records in ~0.05 ms; a read past this many
# thousand SQLite steps (a number common enough to be in most records) goes to the thread.
ON_LOOP_STEPS = 20


async def _matches(
    session: AsyncSession,
    match: str,
    n: int,
    filters: dict[str, Any],
    dialect: str,
    reader: Any = None,
) -> list[tuple[int, float]]:
    """(id, score) of the n best records for one match expression; `reader` (SQLite's
    read-only record reader) runs it on the loop, for the rare terms only."""
    if dialect == "sqlite" and not any(filters.values()):
        params = {"fts_match": match, "n": n}
        rows = None
        if reader is not None:
            # Through aiosqlite a statement is a round trip to its thread, which cost ~20x
            # the identifier match itself; the loop answers it directly.
            rows = reader.bounded_rows(FTS5_ONLY, params, ON_LOOP_STEPS)
        if rows is None:
            rows = (await session.execute(text(FTS5_ONLY), params)).all()
        return [(int(i), -float(r)) for i, r in rows]
    base = records_service.filtered_query(**filters)
    if dialect == "postgresql":
        tsquery = func.to_tsquery(PG_CONFIG, match)
        score = func.ts_rank_cd(PG_DOCUMENT, tsquery).label("score")
        stmt = (
            base.with_only_columns(Memory.id, score)
            .where(PG_DOCUMENT.op("@@")(tsquery))
            .order_by(desc("score"), Memory.id)
            .limit(n)
        )
        return [(int(i), float(s)) for i, s in (await session.execute(stmt)).all()]
    rank: Any = literal_column("bm25(memories_fts)")
    stmt = (
        base.with_only_columns(Memory.id, rank.label("rank"))
        .join(FTS, FTS.c.rowid == Memory.id)
        .where(text("memories_fts MATCH :fts_match").bindparams(fts_match=match))
        .order_by(rank, Memory.id)
        .limit(n)
    )
    # bm25() is lower-is-better and negative; flipped, every score is higher-is-better.
    return [(int(i), -float(r)) for i, r in (await session.execute(stmt)).all()]


async def keyword_hits(
    session: AsyncSession,
    query: str,
    n: int,
    filters: dict[str, Any],
    *,
    min_tier: int = TIER_ANY,
    reader: Any = None,
) -> list[KeywordHit]:
    """Up to n full-text matches: the best tier first, each tier by the database's score;
    tiers below min_tier are not asked for (the any-word tier is the costly one: at 100k
    records an OR of common words ranks most of the table). `reader` is the SQLite
    read-only record reader, used when there are no filters."""
    parsed = parse(query)
    if parsed.empty:
        return []
    dialect = session.get_bind().dialect.name
    tiers = tiers_of(parsed, dialect)
    # The loop may answer a statement whose units are all identifiers (rare terms, cheap).
    rare = {TIER_IDENTIFIERS: reader, TIER_ALL: None if parsed.terms else reader}
    found: dict[int, list[tuple[int, float]]] = {}
    if len(tiers) > 1 and tiers[1][0] == TIER_IDENTIFIERS:
        # Every-word matches are a subset of every-identifier matches, and an identifier is
        # rare: asked first, an identifier no record holds settles both tiers in one cheap
        # statement instead of ranking the query's common words.
        found[TIER_IDENTIFIERS] = await _matches(session, tiers[1][1], n, filters, dialect, reader)
        if not found[TIER_IDENTIFIERS]:
            found[TIER_ALL] = []
    out: dict[int, KeywordHit] = {}
    for tier, match in tiers:
        if len(out) >= n or tier < min_tier:
            break
        if tier not in found:
            found[tier] = await _matches(session, match, n, filters, dialect, rare.get(tier))
        for memory_id, score in found[tier]:
            if memory_id not in out:
                out[memory_id] = KeywordHit(memory_id, score, tier)
    return list(out.values())[:n]
