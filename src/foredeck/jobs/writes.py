"""One writer at a time for the engine's own short writes on SQLite.

SQLite has a single write lock and its busy handler waits by sleeping (1, 2, 5 ... 100 ms), so
concurrent claims, finishes and progress writes from one process would spend most of their
time asleep. Queuing them on an asyncio lock instead hands the write lock over at once.
PostgreSQL locks rows, so there the guard does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


def write_guard(state: Any) -> Any:
    """An async context manager that serialises engine writes on SQLite (a no-op elsewhere)."""
    config = getattr(state, "config", None)
    if config is None or not config.is_sqlite:
        return contextlib.nullcontext()
    lock = getattr(state, "job_write_lock", None)
    if lock is None:
        lock = asyncio.Lock()
        state.job_write_lock = lock
    return lock
