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
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_seconds
    # Cancel again each round: an absorbed cancel (Python 3.11's wait_for can also swallow
    # one) leaves the task running, and the next cancel lands at its next await.
    while live and loop.time() < deadline:
        for task in live:
            task.cancel()
        _, live = await asyncio.wait(live, timeout=min(0.1, max(0.0, deadline - loop.time())))
