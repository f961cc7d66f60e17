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


PUBLISH_KEY = "foredeck_publish"
# Per engine: where committed messages go (the app's pub/sub publish function).
_publishers: weakref.WeakKeyDictionary[Any, Callable[[str, dict[str, Any]], Any]] = (
    weakref.WeakKeyDictionary()
)


def register_publisher(engine: Any, publish: Callable[[str, dict[str, Any]], Any]) -> None:
    _publishers[engine] = publish


def publish_after_commit(session: AsyncSession, topic: str, data: dict[str, Any]) -> None:
    """Publish a message once the transaction commits (dropped on rollback)."""
    _hook(session.sync_session)
    session.sync_session.info.setdefault(PUBLISH_KEY, []).append((topic, data))


def _after_commit(sync_session: Any) -> None:
    jobs = sync_session.info.pop(PENDING_KEY, None)
    messages = sync_session.info.pop(PUBLISH_KEY, None)
    engine = sync_session.get_bind()
    if jobs:
        notify(engine, jobs)
    publish = _publishers.get(engine)
    if messages and publish is not None:
        for topic, data in messages:
            try:
                publish(topic, data)
            except Exception:
                log.exception("publish_after_commit_failed", topic=topic)


def _after_rollback(sync_session: Any) -> None:
    sync_session.info.pop(PENDING_KEY, None)
    sync_session.info.pop(PUBLISH_KEY, None)


def _hook(sync: Any) -> None:
    if not sync.info.get(_HOOKED_KEY):
        event.listen(sync, "after_commit", _after_commit)
        event.listen(sync, "after_rollback", _after_rollback)
        sync.info[_HOOKED_KEY] = True


def enqueue_after_commit(
    session: AsyncSession, job_id: str, queue: str, delay: float = 0.0
) -> None:
    """Remember a new (or requeued) job; executors hear of it when the transaction commits."""
    sync = session.sync_session
    sync.info.setdefault(PENDING_KEY, []).append((job_id, queue, delay))
    _hook(sync)
