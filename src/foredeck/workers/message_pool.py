"""The job slots of a `foredeck worker`: job ids come in Celery messages, and wait here until
a slot is free to claim them.

Slots are refilled as in the embedded pool: the ids waiting when jobs finish are claimed in
the transaction that records those jobs' outcomes, so a busy worker writes one transaction per
batch of jobs instead of two. A message is acked once each of its jobs is claimed or found
taken; until then it counts against the worker's prefetch, which bounds what waits here.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from foredeck.logging import get_logger
from foredeck.workers.outcomes import Claimed
from foredeck.workers.runner import ClaimAsk, ClaimPlan, JobRunner

log = get_logger(__name__)
# After a claim transaction fails, the ids it held wait this long before the next try.
CLAIM_RETRY_SECONDS = 1.0


@dataclass(eq=False)
class _Wanted:
    job_id: str
    passed: Callable[[], None]
    done: asyncio.Future[str] | None = None


class MessagePool:
    """`concurrency` slots for the job ids that messages bring (runs on the worker's loop)."""

    def __init__(self, runner: JobRunner, concurrency: int) -> None:
        self.runner = runner
        self.concurrency = max(1, concurrency)
        self.waiting: deque[_Wanted] = deque()
        self.running: dict[str, asyncio.Task[str]] = {}
        # Jobs whose outcome is being written: their slot goes to the refill.
        self.finishing: set[str] = set()
        # Slots promised to claims in flight, so a claim and a refill never share one.
        self.reserved = 0
        self._claimer: asyncio.Task[None] | None = None
        runner.refill = self

    def add(
        self,
        job_ids: list[str],
        ack: Callable[[], None] | None,
        done: list[asyncio.Future[str]] | None = None,
    ) -> None:
        """Take one message's jobs; `ack` is called once every one of them is claimed or
        found taken (a job that is not due, or already ran, is skipped)."""
        left = len(job_ids)

        def passed() -> None:
            nonlocal left
            left -= 1
            if left == 0 and ack is not None:
                ack()

        for i, job_id in enumerate(job_ids):
            self.waiting.append(_Wanted(job_id, passed, done[i] if done else None))
        self._kick()

    def _free(self, refill: bool) -> int:
        # A finishing job's slot belongs to the refill of its finish transaction: a claim of
        # its own for it would cost the transaction the refill saves.
        if refill:
            busy = sum(1 for job_id in self.running if job_id not in self.finishing)
        else:
            busy = len(self.running)
        return self.concurrency - busy - self.reserved

    def _take(self, refill: bool = False) -> ClaimAsk | None:
        if self.runner.stopping:
            # Left unacked: the broker gives their messages back when this worker closes.
            return None
        n = min(self._free(refill), len(self.waiting))
        if n <= 0:
            return None
        taken = [self.waiting.popleft() for _ in range(n)]
        self.reserved += n
        return ClaimAsk(n, job_ids=[w.job_id for w in taken], taken=taken)

    def _kick(self) -> None:
        if self.waiting and (self._claimer is None or self._claimer.done()):
            self._claimer = asyncio.create_task(self._claim_loop(), name="worker-claims")

    async def _claim_loop(self) -> None:
        while (ask := self._take()) is not None:
            try:
                claimed = await self.runner.claim(limit=ask.limit, job_ids=ask.job_ids)
            except Exception:
                log.exception("job_claim_failed", count=ask.limit)
                self._settle(ask, None)
                await asyncio.sleep(CLAIM_RETRY_SECONDS)
                continue
            self._settle(ask, claimed)

    def refill_plan(self, finishing: list[Claimed]) -> ClaimPlan:
        self.finishing.update(c.job_id for c in finishing)
        ask = self._take(refill=True)
        return [ask] if ask is not None else []

    def refill_start(self, plan: ClaimPlan, claimed: list[Claimed] | None) -> None:
        for ask in plan:
            self._settle(ask, claimed)
        self._kick()

    def _settle(self, ask: ClaimAsk, claimed: list[Claimed] | None) -> None:
        self.reserved -= ask.limit
        if claimed is None:
            # The transaction failed: nothing was claimed, so the ids wait for the next try.
            self.waiting.extendleft(reversed(ask.taken))
            return
        got = {c.job_id: c for c in claimed}
        for wanted in ask.taken:
            # A message delivered twice: the first id runs the job, the rest are skipped.
            c = got.pop(wanted.job_id, None)
            wanted.passed()
            if c is None:
                if wanted.done is not None and not wanted.done.done():
                    wanted.done.set_result("skipped")
                continue
            self.running[c.job_id] = asyncio.create_task(
                self._run(c, wanted.done), name=f"job-{c.job_id}"
            )

    async def _run(self, c: Claimed, done: asyncio.Future[str] | None) -> str:
        try:
            status = await self.runner.execute(c)
        except Exception:
            log.exception("job_runner_crashed", job_id=c.job_id)
            status = "error"
        finally:
            self.running.pop(c.job_id, None)
            self.finishing.discard(c.job_id)
            self._kick()
        if done is not None and not done.done():
            done.set_result(status)
        return status

    async def drain(self, seconds: float) -> None:
        """Wait for the running jobs (told to stop at their next check) to record how they
        ended."""
        if self.running:
            await asyncio.wait(set(self.running.values()), timeout=seconds)
