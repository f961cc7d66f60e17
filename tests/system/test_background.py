"""Background loops: a failing round is logged and the loop goes on; a cancel stops it even
when the cut-off work fails with another error on the way out (as a session close does)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import structlog

from foredeck.jobs import periodic


async def _failures_until(
    round_: Callable[[], Awaitable[None]], name: str, reached: asyncio.Event
) -> list[str]:
    """Repeat round_ until `reached` is set, then cancel the loop (it must end cancelled);
    the names of the rounds logged as failed."""
    with structlog.testing.capture_logs() as logs:
        task = periodic.start(round_, every=0.01, name=name)
        await asyncio.wait_for(reached.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    return [e["task"] for e in logs if e["event"] == "periodic_round_failed"]


async def test_failed_round_is_logged_and_the_loop_goes_on() -> None:
    rounds: list[int] = []
    third = asyncio.Event()

    async def round_() -> None:
        rounds.append(1)
        if len(rounds) == 3:
            third.set()
        if len(rounds) == 1:
            raise RuntimeError("boom")

    assert await _failures_until(round_, "flaky", third) == ["flaky"]


async def test_cancel_mid_round_stops_the_loop_without_a_failure() -> None:
    started = asyncio.Event()

    async def round_() -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as cut_off:
            raise RuntimeError("Can't reconnect until invalid transaction is rolled back") from (
                cut_off
            )

    with structlog.testing.capture_logs() as logs:
        task = periodic.start(round_, every=30, name="cut-off")
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
    assert not [e for e in logs if e["event"] == "periodic_round_failed"]


async def test_a_swallowed_cancel_does_not_stop_the_loop_later() -> None:
    """A failure unrelated to any cancel is logged even if the task once swallowed a cancel
    (its cancel count then stays up)."""
    rounds: list[int] = []
    third = asyncio.Event()

    async def round_() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                pass  # swallowed, without uncancel()
        elif len(rounds) == 2:
            raise RuntimeError("unrelated")
        else:
            third.set()

    assert await _failures_until(round_, "swallower", third) == ["swallower"]


async def test_rollback_of_an_invalidated_sqlite_write_raises_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A write cut off by a cancel leaves an invalidated connection; rolling it back must not
    raise PendingRollbackError from foredeck's transaction-end listener (it did, and every
    shutdown that cut a loop's write logged a failure)."""
    from sqlalchemy import text

    from foredeck.config import Config
    from foredeck.db import make_engine

    engine = make_engine(Config(data_dir=tmp_path))
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.commit()
            await conn.execute(text("INSERT INTO t VALUES (1)"))  # opens BEGIN IMMEDIATE
            await conn.invalidate()
            await conn.rollback()
        async with engine.connect() as conn:
            # The write flag did not survive on the pooled connection: this write begins anew.
            await conn.execute(text("INSERT INTO t VALUES (2)"))
            await conn.commit()
            assert (await conn.execute(text("SELECT x FROM t"))).scalars().all() == [2]
    finally:
        await engine.dispose()
