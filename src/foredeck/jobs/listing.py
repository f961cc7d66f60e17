"""Listing jobs at a million rows: the text filter, the page and its (capped) total.

The text filter `q` is a substring of kind, error or progress message, or a prefix of the id.
SQLite answers it from the `jobs_fts` trigram table, PostgreSQL from the `ix_jobs_text_trgm`
GIN index (both made by migration 0008, outside the models: neither is a plain index).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    column,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import visitors
from sqlalchemy.sql.elements import ColumnClause, Grouping
from sqlalchemy.types import Boolean

from foredeck.models.auth import User
from foredeck.models.jobs import Job

# Totals are exact up to here; past it a listing reports this many and `exact=False`, unless
# an index makes the exact count cheap (SQLite, see `_index_countable`).
COUNT_CAP = 10_000
# A common term is found fastest in the newest jobs in order; this many are read for it,
# when more than PROBE_ABOVE jobs match (fewer are sorted quicker than the window is read).
PROBE_WINDOW = 5_000
PROBE_ABOVE = 2_000
# The trigram index cannot help a shorter term.
MIN_INDEXED = 3
_ID_CHARS = re.compile(r"^[0-9a-fA-F-]+$")
_FTS = table("jobs_fts", column("rowid"))
# FTS5 takes MATCH on the table's own name: the whole row, every column.
_FTS_ROW: ColumnClause[Any] = literal_column("jobs_fts")


# The orders a listing may be sorted by besides newest first, by name.
ORDERS: dict[str, tuple[Any, ...]] = {
    "-created": (Job.created_at.desc(), Job.id.desc()),
    "created": (Job.created_at.asc(), Job.id.asc()),
    "-finished": (Job.finished_at.desc(), Job.id.desc()),
    "kind": (Job.kind.asc(), Job.created_at.desc()),
    "status": (Job.status.asc(), Job.created_at.desc()),
}


class JobPage(NamedTuple):
    rows: list[Job]
    total: int
    exact: bool


class TextMatch(ColumnElement[bool]):
    """`q` matches a job; compiled per dialect to its text index (see the compilers below)."""

    inherit_cache = False
    type = Boolean()

    def __init__(self, q: str, *, scan: bool = False) -> None:
        self.q = q
        # A plain LIKE over the columns, for a bounded window of rows.
        self.scan = scan

    def self_group(self, against: Any = None) -> ColumnElement[Any]:
        # Parenthesised among other filters; never the `= 1` of a boolean column on SQLite,
        # which would hide the IN from the planner.
        return Grouping(self)


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _like_text(q: str, *, null_false: bool = False, entity: Any = Job) -> ColumnElement[bool]:
    """`null_false` reads NULL columns as '', so NOT of it is true for them."""
    pattern = _like(q)
    columns: list[Any] = [entity.kind, entity.error, entity.progress_message]
    if null_false:
        columns = [func.coalesce(c, "") for c in columns]
    return or_(*(c.ilike(pattern, escape="\\") for c in columns))


def _id_prefix(q: str, *, entity: Any = Job) -> ColumnElement[bool]:
    """A range on the primary key: LIKE 'x%' would not use it (case rules, collations)."""
    if not _ID_CHARS.match(q):
        return false()
    low = q.lower()
    return and_(entity.id >= low, entity.id < low + "\uffff")


def _fts_phrase(q: str) -> str:
    return '"' + q.replace('"', '""') + '"'


def _fts_rowids(q: str) -> Select[Any]:
    return select(_FTS.c.rowid).where(_FTS_ROW.op("MATCH")(_fts_phrase(q)))


def _uses_fts(element: TextMatch, dialect: str) -> bool:
    return dialect == "sqlite" and not element.scan and len(element.q) >= MIN_INDEXED


@compiles(TextMatch)
def _compile_default(element: TextMatch, compiler: Any, **kw: Any) -> str:
    # PostgreSQL's ILIKE on these columns is what the gin_trgm_ops index answers.
    clause = or_(_like_text(element.q), _id_prefix(element.q))
    return str(compiler.process(clause, **kw))


@compiles(TextMatch, "sqlite")
def _compile_sqlite(element: TextMatch, compiler: Any, **kw: Any) -> str:
    if not _uses_fts(element, "sqlite"):
        return _compile_default(element, compiler, **kw)
    # One IN list for both branches: an OR beside it would keep the planner from using it.
    rowids: Any = _fts_rowids(element.q)
    if _ID_CHARS.match(element.q):
        rowids = union_all(
            rowids, select(literal_column("rowid")).select_from(Job).where(_id_prefix(element.q))
        )
    return str(compiler.process(literal_column("jobs.rowid").in_(rowids), **kw))


def _text_match(stmt: Select[Any]) -> TextMatch | None:
    if stmt.whereclause is None:
        return None
    for element in visitors.iterate(stmt.whereclause):
        if isinstance(element, TextMatch):
            return element
    return None


def _replace_text(stmt: Select[Any], by: ColumnElement[bool]) -> Select[Any]:
    def swap(element: Any, **_: Any) -> Any:
        return by if isinstance(element, TextMatch) else None

    return cast(Select[Any], visitors.replacement_traverse(stmt, {}, swap))


def _dialect(session: AsyncSession) -> str:
    return str(session.get_bind().dialect.name)


def _index_countable(stmt: Select[Any]) -> bool:
    """Whether every filtered column sits in one index that leads with one of them."""
    if stmt.whereclause is None:
        return True
    if _text_match(stmt) is not None:
        return False
    columns = {
        e.name
        for e in visitors.iterate(stmt.whereclause)
        if getattr(e, "table", None) is Job.__table__ and hasattr(e, "name")
    }
    for index in cast(Table, Job.__table__).indexes:
        names = [getattr(c, "name", None) for c in index.expressions]
        if names and names[0] in columns and columns <= set(names):
            return True
    return False


async def count_jobs(
    session: AsyncSession, stmt: Select[Any], *, cap: int | None = None
) -> tuple[int, bool]:
    """(total, exact): exact when cheap or under `cap`, else `cap` as a lower bound."""
    cap = COUNT_CAP if cap is None else cap
    base = stmt.order_by(None).limit(None).offset(None)
    # SQLite counts index entries fast; PostgreSQL checks each one's visibility (140 ms for a
    # million), so there only the capped count is cheap.
    if _dialect(session) == "sqlite" and _index_countable(base):
        exact = select(func.count()).select_from(base.with_only_columns(Job.id).subquery())
        return int((await session.execute(exact)).scalar_one()), True
    ids = base.with_only_columns(Job.id)
    match = _text_match(base)
    if match is not None and len(base._where_criteria) == 1 and _uses_fts(match, _dialect(session)):
        # `q` alone: a join driven by the trigram table stops at the cap, where the IN form
        # would first collect every match. With other filters too the planner would drive
        # from their index and run the full-text query once per row, so they keep the IN.
        rest = _replace_text(ids, true())
        ids = rest.join_from(Job, _FTS, _FTS.c.rowid == literal_column("jobs.rowid")).where(
            _FTS_ROW.op("MATCH")(_fts_phrase(match.q))
        )
        if _ID_CHARS.match(match.q):
            # Id-prefix matches that are not also text matches.
            by_id = rest.where(_id_prefix(match.q), not_(_like_text(match.q, null_false=True)))
            ids = union_all(ids, by_id)  # type: ignore[assignment]
    capped = select(func.count()).select_from(ids.limit(cap + 1).subquery())
    total = int((await session.execute(capped)).scalar_one())
    return (cap, False) if total > cap else (total, True)


async def _probe(
    session: AsyncSession, stmt: Select[Any], match: TextMatch, *, offset: int, limit: int
) -> list[Job] | None:
    """The page from the newest jobs alone, or None when they hold too few matches."""
    if offset + limit > PROBE_WINDOW // 10:
        return None
    window = aliased(
        Job,
        _replace_text(stmt, true())
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(PROBE_WINDOW)
        .subquery(),
    )
    page = (
        select(window)
        .where(or_(_like_text(match.q, entity=window), _id_prefix(match.q, entity=window)))
        .order_by(window.created_at.desc(), window.id.desc())
        .offset(offset)
        .limit(limit)
    )
    rows = list((await session.execute(page)).scalars())
    return rows if len(rows) == limit else None


async def list_jobs(
    session: AsyncSession, stmt: Select[Any], *, offset: int, limit: int, order: Any = None
) -> JobPage:
    """One page of `stmt` (newest first unless `order`) and its total."""
    total, exact = await count_jobs(session, stmt)
    if exact and offset >= total:
        return JobPage([], total, exact)
    match = _text_match(stmt)
    # A term this common is found sooner among the newest jobs than by sorting its matches.
    common = not exact or total > PROBE_ABOVE
    if order is None and common and match is not None and _uses_fts(match, _dialect(session)):
        rows = await _probe(session, stmt, match, offset=offset, limit=limit)
        if rows is not None:
            return JobPage(rows, total, exact)
    order = order if order is not None else (Job.created_at.desc(), Job.id.desc())
    result = await session.execute(stmt.order_by(*order).offset(offset).limit(limit))
    rows = list(result.scalars())
    if not exact and 0 < len(rows) < limit:
        # The last page: now the total is known.
        return JobPage(rows, offset + len(rows), True)
    return JobPage(rows, total, exact)


async def job_ids(session: AsyncSession, stmt: Select[Any], *, limit: int) -> list[str]:
    """The ids of the first `limit` jobs `stmt` matches (for a batch action on a filter)."""
    return [str(i) for i in await session.scalars(stmt.with_only_columns(Job.id).limit(limit))]


async def failed_since(session: AsyncSession, since: datetime) -> int:
    """How many jobs failed at or after `since`."""
    count = await session.scalar(
        select(func.count())
        .select_from(Job)
        .where(Job.status == "failed", Job.finished_at >= since)
    )
    return int(count or 0)


async def finished_since(
    session: AsyncSession, since: datetime, *, limit: int
) -> list[tuple[datetime, str]]:
    """(finished_at, status) of up to `limit` jobs that succeeded or failed since `since`."""
    rows = await session.execute(
        select(Job.finished_at, Job.status)
        .where(Job.finished_at >= since, Job.status.in_(("succeeded", "failed")))
        .limit(limit)
    )
    # The filter already leaves out unfinished jobs; the check is for the type.
    return [(at, status) for at, status in rows.all() if at is not None]


async def latest_of_kind(session: AsyncSession, kind: str) -> tuple[Job, str | None] | None:
    """The newest job of a kind and the username of who created it (None: the system)."""
    row = (
        await session.execute(
            select(Job, User.username)
            .outerjoin(User, User.id == Job.created_by)
            .where(Job.kind == kind)
            .order_by(Job.created_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else (row[0], row[1])


async def recent_of_kind(session: AsyncSession, kind: str, *, limit: int) -> list[Job]:
    """The newest jobs of a kind, newest first."""
    rows = await session.scalars(
        select(Job).where(Job.kind == kind).order_by(Job.created_at.desc()).limit(limit)
    )
    return list(rows)
