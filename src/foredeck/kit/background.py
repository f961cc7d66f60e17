"""Rounds of background loops: a failed round is logged and the loop goes on, a cancelled one
stops it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from foredeck.logging import get_logger

log = get_logger(__name__)


@contextlib.contextmanager
def logged_failure(event: str, **fields: Any) -> Iterator[None]:
    """Log what the block raises, except cancellation.

    A query cut off by a cancel makes the session's close raise (the connection is
    invalidated) instead of CancelledError; while the task is being cancelled that error is
    the cancellation, so it stops the loop instead of being logged as a failure at every
    shutdown.
    """
    try:
        yield
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling() and _raised_by_a_cancel(exc):
            raise asyncio.CancelledError from None
        log.exception(event, **fields)


def _raised_by_a_cancel(exc: BaseException) -> bool:
    """Whether exc was raised while a CancelledError was being handled (its context chain).

    A task's cancel count stays up if some code swallowed an earlier cancel, so the count
    alone would turn any later failure into a stop."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, asyncio.CancelledError):
            return True
        seen.add(id(link))
        link = link.__context__
    return False
