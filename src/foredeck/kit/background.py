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
    except Exception:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError from None
        log.exception(event, **fields)
