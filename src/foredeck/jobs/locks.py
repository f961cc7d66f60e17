"""Advisory locks in the `locks` table: a holder, a lease and a fencing token.

Taking a lock is one conditional UPDATE, so the database decides the race: on SQLite the
write lock (what `BEGIN IMMEDIATE` takes) serialises it, on PostgreSQL the row lock does and
the loser re-reads the winner's row. Works the same on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.db import transaction
from foredeck.errors import Conflict, NotFound
from foredeck.jobs.schemas import LockRead
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.kit.writes import write_guard
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.models.jobs import ACTIVE_STATUSES, Job, Lock

log = get_logger(__name__)


class LockHeld(Conflict):
    code = "LOCK_HELD"


def _insert(conn: Connection) -> Any:
    return postgresql.insert(Lock) if conn.dialect.name == "postgresql" else sqlite.insert(Lock)


def _free_clause(now: datetime, holder_job_id: str | None, holder: str | None) -> Any:
    """A lock row anyone may take: unheld, lease run out, holder job ended, or already ours."""
    holder_alive = exists().where(Job.id == Lock.holder_job_id, Job.status.in_(ACTIVE_STATUSES))
    clauses = [
        and_(Lock.holder_job_id.is_(None), Lock.holder.is_(None)),
        and_(Lock.expires_at.is_not(None), Lock.expires_at < now),
        and_(Lock.holder_job_id.is_not(None), ~holder_alive),
    ]
    if holder_job_id is not None:
        clauses.append(Lock.holder_job_id == holder_job_id)
    elif holder is not None:
        clauses.append(and_(Lock.holder_job_id.is_(None), Lock.holder == holder))
    return or_(*clauses)


def conflict_for(name: str, lock: Any) -> LockHeld:
    holder = lock.holder_job_id if lock is not None else None
    who = f"job {holder}" if holder else (lock.holder if lock is not None else None) or "another"
    message = f"The {name} lock is held by {who}"
    return LockHeld(
        message,
        details=[{"field": f"locks.{name}", "message": f"held by {who}"}],
    )


def acquire_on(
    conn: Connection,
    name: str,
    *,
    holder_job_id: str | None = None,
    holder: str | None = None,
    lease_seconds: float | None = None,
) -> int:
    """Take the lock (409 LOCK_HELD naming the holder); returns the new fencing token.

    A lease of None means "held until released", which is how a queued job keeps its lock.
    Written against a plain Connection so the job runner can call it inside a transaction
    that runs whole in one worker thread; async callers go through `acquire`.
    """
    now = utcnow()
    conn.execute(
        _insert(conn).values(name=name, fence=0).on_conflict_do_nothing(index_elements=["name"])
    )
    expires = now + timedelta(seconds=lease_seconds) if lease_seconds is not None else None
    row = conn.execute(
        update(Lock)
        .where(Lock.name == name, _free_clause(now, holder_job_id, holder))
        .values(
            holder_job_id=holder_job_id,
            holder=holder,
            acquired_at=now,
            expires_at=expires,
            fence=Lock.fence + 1,
        )
        .returning(Lock.fence)
    ).first()
    if row is None:
        current = conn.execute(select(Lock.__table__).where(Lock.name == name)).one()
        raise conflict_for(name, current)
    return int(row[0])


def acquire_many_on(
    conn: Connection,
    names: Iterable[str],
    *,
    holder_job_id: str | None = None,
    holder: str | None = None,
    lease_seconds: float | None = None,
) -> dict[str, int]:
    """Take several locks in name order (so two takers cannot deadlock)."""
    return {
        name: acquire_on(
            conn, name, holder_job_id=holder_job_id, holder=holder, lease_seconds=lease_seconds
        )
        for name in sorted(set(names))
    }


def release_job_locks_on(conn: Connection, job_id: str) -> None:
    """Free every lock this job holds."""
    conn.execute(
        update(Lock)
        .where(Lock.holder_job_id == job_id)
        .values(holder_job_id=None, holder=None, expires_at=None)
    )


def set_job_lock_lease_on(conn: Connection, job_id: str, lease_seconds: float | None) -> int:
    """Renew (or, with None, pin) the leases of this job's locks; returns how many it holds."""
    expires = utcnow() + timedelta(seconds=lease_seconds) if lease_seconds is not None else None
    result = conn.execute(
        update(Lock).where(Lock.holder_job_id == job_id).values(expires_at=expires)
    )
    return int(result.rowcount or 0)


async def acquire(session: AsyncSession, name: str, **kwargs: Any) -> int:
    return await session.run_sync(lambda s: acquire_on(s.connection(), name, **kwargs))


async def acquire_many(
    session: AsyncSession, names: Iterable[str], **kwargs: Any
) -> dict[str, int]:
    names = list(names)
    return await session.run_sync(lambda s: acquire_many_on(s.connection(), names, **kwargs))


async def release_job_locks(session: AsyncSession, job_id: str) -> None:
    await session.run_sync(lambda s: release_job_locks_on(s.connection(), job_id))


async def set_job_lock_lease(
    session: AsyncSession, job_id: str, lease_seconds: float | None
) -> int:
    return await session.run_sync(
        lambda s: set_job_lock_lease_on(s.connection(), job_id, lease_seconds)
    )


async def release(session: AsyncSession, name: str, *, fence: int | None = None) -> bool:
    """Free a lock; with a fence, only if that token is still the current one."""
    stmt = update(Lock).where(Lock.name == name)
    if fence is not None:
        stmt = stmt.where(Lock.fence == fence)
    result = await session.execute(
        stmt.values(holder_job_id=None, holder=None, expires_at=None).execution_options(
            synchronize_session=False
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def force_release(session: AsyncSession, name: str) -> Lock:
    """Admin: free a stuck lock; the raised fence stops the old holder from renewing it."""
    lock = await session.get(Lock, name)
    if lock is None:
        raise NotFound(f"No lock named {name}")
    lock.holder_job_id = None
    lock.holder = None
    lock.expires_at = None
    lock.fence = lock.fence + 1
    await session.flush()
    return lock


async def list_locks(session: AsyncSession) -> list[Lock]:
    return list((await session.execute(select(Lock).order_by(Lock.name))).scalars())


async def live_lock(session: AsyncSession, name: str) -> Lock | None:
    """The lock when it is held now, by a process or by a job that is still active."""
    lock = await session.get(Lock, name)
    if lock is None or not is_held(lock):
        return None
    if lock.holder_job_id:
        job = await session.get(Job, lock.holder_job_id)
        if job is None or job.status not in ACTIVE_STATUSES:
            return None
    return lock


def is_held(lock: Lock, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if lock.holder_job_id is None and lock.holder is None:
        return False
    return lock.expires_at is None or lock.expires_at >= now


def lock_read(lock: Lock) -> LockRead:
    return LockRead(
        name=lock.name,
        held=is_held(lock),
        holder_job_id=lock.holder_job_id,
        holder=lock.holder,
        acquired_at=lock.acquired_at,
        expires_at=lock.expires_at,
        fence=lock.fence,
    )


async def prune_free_locks(session: AsyncSession) -> None:
    await session.execute(delete(Lock).where(Lock.holder_job_id.is_(None), Lock.holder.is_(None)))


async def try_lead(runtime: Runtime, name: str, holder: str, lease_seconds: float) -> bool:
    """Take or renew a leadership lock for one process; False while another holds it."""
    try:
        async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
            await acquire(session, name, holder=holder, lease_seconds=lease_seconds)
    except Conflict:
        return False
    return True


async def step_down(runtime: Runtime, name: str, holder: str) -> None:
    """Give a leadership lock back at shutdown so another process takes over at once."""
    async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
        await session.execute(
            update(Lock)
            .where(Lock.name == name, Lock.holder == holder)
            .values(holder=None, holder_job_id=None, expires_at=None)
            .execution_options(synchronize_session=False)
        )


def default_holder(label: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{label}"


@contextlib.asynccontextmanager
async def operation_lock(
    runtime: Runtime,
    name: str,
    *,
    holder_job_id: str | None = None,
    holder: str | None = None,
    lease_seconds: float | None = None,
) -> AsyncIterator[int]:
    """Hold an advisory lock for a block of code (409 LOCK_HELD when taken); yields the fence.

    The lease is renewed in the background while the block runs, so only a dead process
    loses it. A job that already holds the lock (declared by its kind) re-enters it.
    """
    settings = runtime[JOB_SETTINGS]
    lease = lease_seconds or settings.lock_lease_seconds
    # Each use is its own holder unless the caller names one (a named holder may re-enter).
    who = holder or f"{default_holder(name)}:{uuid.uuid4().hex[:8]}"
    async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
        current = await session.get(Lock, name)
        reentered = holder_job_id is not None and (
            current is not None and current.holder_job_id == holder_job_id
        )
        token = await acquire(
            session, name, holder_job_id=holder_job_id, holder=who, lease_seconds=lease
        )

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease / 3)
            try:
                async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
                    await session.execute(
                        update(Lock)
                        .where(Lock.name == name, Lock.fence == token)
                        .values(expires_at=utcnow() + timedelta(seconds=lease))
                        .execution_options(synchronize_session=False)
                    )
            except Exception:
                log.warning("lock_renew_failed", lock=name)

    renewer = asyncio.create_task(renew())
    try:
        yield token
    finally:
        await stop_tasks(renewer)
        async with write_guard(runtime), transaction(runtime.sessionmaker) as session:
            # A lock the job declared stays with the job until it ends.
            if not reentered:
                await release(session, name, fence=token)
