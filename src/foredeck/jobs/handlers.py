"""Built-in job kinds: `test` (seed 001's counting job) and `noop` (for benchmarks)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from foredeck.jobs.context import JobContext
from foredeck.jobs.registry import job_handler


class TestParams(BaseModel):
    count: int = Field(default=10, ge=1, le=1_000_000, description="How far to count")
    delay: float = Field(default=0.2, ge=0, le=10, description="Seconds per step")
    # Fail the first N attempts: shows retries and backoff without a broken handler.
    fail_attempts: int = Field(default=0, ge=0, le=50)
    # Take an extra advisory lock named test:<lock> (shows lock conflicts).
    lock: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    checkpoint_every: int = Field(default=1, ge=1)


def _test_locks(params: BaseModel | None) -> tuple[str, ...]:
    lock = getattr(params, "lock", None)
    return (f"test:{lock}",) if lock else ()


@job_handler("test", params=TestParams, queue="default", locks=_test_locks, max_attempts=3)
async def count(ctx: JobContext) -> dict[str, Any]:
    """Count to `count` with progress, checkpoints and pause/cancel checks."""
    p: TestParams = ctx.params
    if ctx.attempt <= p.fail_attempts:
        raise RuntimeError(f"failing attempt {ctx.attempt} of {p.fail_attempts} on purpose")
    start = int((ctx.checkpoint or {}).get("next", 0))
    if start:
        await ctx.log(f"resuming from {start}", resumed_from=start)
    await ctx.progress(done=start, total=p.count, message="counting")
    for i in range(start, p.count):
        await ctx.check()
        if p.delay:
            await asyncio.sleep(p.delay)
        if (i + 1) % p.checkpoint_every == 0:
            await ctx.save_checkpoint({"next": i + 1})
        await ctx.progress(done=i + 1, message=f"counted {i + 1}")
    return {"counted": p.count, "resumed_from": start}


@job_handler("noop", queue="default")
async def noop(ctx: JobContext) -> None:
    """Do nothing (measures the engine's own overhead)."""
    return None
