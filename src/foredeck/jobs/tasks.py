"""Stopping background tasks without hanging on a cancel that got absorbed."""

from __future__ import annotations

import asyncio
from typing import Any


async def stop_tasks(*tasks: asyncio.Future[Any] | None, wait_seconds: float = 10.0) -> None:
    """Cancel tasks and wait for them, but never longer than `wait_seconds`.

    A cancel that lands while SQLAlchemy closes a session under `asyncio.shield` can be
    swallowed, so awaiting the task itself could wait forever.
    """
    live = {t for t in tasks if t is not None and not t.done()}
    for task in live:
        task.cancel()
    if live:
        await asyncio.wait(live, timeout=wait_seconds)
