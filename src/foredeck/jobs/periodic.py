"""Background rounds that repeat for the life of the app (retention and clean-up sweeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from foredeck.kit.background import logged_failure
from foredeck.logging import get_logger

log = get_logger(__name__)


async def repeat(round_: Callable[[], Awaitable[Any]], *, every: float, name: str) -> None:
    """Run round_ now and then every `every` seconds; a failed round is logged, never fatal."""
    while True:
        with logged_failure("periodic_round_failed", task=name):
            await round_()
        await asyncio.sleep(every)


def start(round_: Callable[[], Awaitable[Any]], *, every: float, name: str) -> asyncio.Task[None]:
    """The repeating task; stop it with foredeck.kit.tasks.stop_tasks."""
    return asyncio.create_task(repeat(round_, every=every, name=name), name=f"foredeck-{name}")
