"""Enqueue after commit: new jobs wake this process's executor only once their row is visible."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.logging import get_logger

log = get_logger(__name__)
# Each woken job is (job_id, queue, seconds until it is due).
Wake = tuple[str, str, float]
Waker = Callable[[list[Wake]], None]
PENDING_KEY = "foredeck_new_jobs"
_HOOKED_KEY = "foredeck_jobs_hooked"

# Keyed by the sync Engine, so several apps in one process (tests) wake only their own pool.
_wakers: weakref.WeakKeyDictionary[Any, list[Waker]] = weakref.WeakKeyDictionary()


def register_waker(engine: Any, waker: Waker) -> None:
    """Call waker([(job_id, queue, delay), ...]) after each commit that queued jobs."""
    _wakers.setdefault(engine, []).append(waker)


def unregister_waker(engine: Any, waker: Waker) -> None:
    wakers = _wakers.get(engine, [])
    if waker in wakers:
        wakers.remove(waker)


def notify(engine: Any, jobs: list[Wake]) -> None:
    for waker in list(_wakers.get(engine, [])):
        try:
            waker(jobs)
        except Exception:
            log.exception("job_wake_failed")


def _after_commit(sync_session: Any) -> None:
    jobs = sync_session.info.pop(PENDING_KEY, None)
    if jobs:
        notify(sync_session.get_bind(), jobs)


def _after_rollback(sync_session: Any) -> None:
    sync_session.info.pop(PENDING_KEY, None)


def enqueue_after_commit(
    session: AsyncSession, job_id: str, queue: str, delay: float = 0.0
) -> None:
    """Remember a new (or requeued) job; executors hear of it when the transaction commits."""
    sync = session.sync_session
    sync.info.setdefault(PENDING_KEY, []).append((job_id, queue, delay))
    if not sync.info.get(_HOOKED_KEY):
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_rollback", _after_rollback)
        sync.info[_HOOKED_KEY] = True
