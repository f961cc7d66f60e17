"""Following a job to its end with a Rich progress bar, locally or on a server.

One loop serves `jobs watch`, import, export, index rebuild and generate in both modes: a
job source gives the job (as the API's JobRead) and its events, read from the local
database or through foredeck.client, so the bar looks the same either way.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import TYPE_CHECKING, Any, Protocol

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from foredeck.cli.common import console, err_console
from foredeck.kit.runtime import Runtime

if TYPE_CHECKING:
    from foredeck.client import AsyncClient
    from foredeck.jobs.schemas import EventRead, JobRead

TERMINAL = ("succeeded", "failed", "cancelled")
STATUS_STYLE = {
    "queued": "cyan",
    "running": "blue",
    "paused": "yellow",
    "cancelling": "yellow",
    "cancelled": "dim",
    "succeeded": "green",
    "failed": "red",
}


def styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def progress_bar() -> Progress:
    """The bar every long command shows; each task needs a `note` field."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=console,
    )


class JobSource(Protocol):
    async def job(self, job_id: str) -> JobRead: ...

    async def events(self, job_id: str, after: int) -> list[EventRead]: ...


class LocalJobs:
    """Jobs read from this machine's database."""

    def __init__(self, sessionmaker: Any) -> None:
        self.sessionmaker = sessionmaker

    async def job(self, job_id: str) -> JobRead:
        from foredeck.jobs import service as jobs_service
        from foredeck.jobs.schemas import job_read

        async with self.sessionmaker() as session:
            return job_read(await jobs_service.get_job(session, job_id))

    async def events(self, job_id: str, after: int) -> list[EventRead]:
        from foredeck.jobs import service as jobs_service
        from foredeck.jobs.schemas import EventRead

        async with self.sessionmaker() as session:
            rows = await jobs_service.list_events(session, job_id, after_id=after)
            return [EventRead.model_validate(e, from_attributes=True) for e in rows]


class RemoteJobs:
    """Jobs read from a server: GET /api/v1/jobs/{id} and its event history."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def job(self, job_id: str) -> JobRead:
        return await self.client.get_job(job_id)

    async def events(self, job_id: str, after: int) -> list[EventRead]:
        return await self.client.list_job_events(job_id, after=after, limit=500)


def _note(job: JobRead) -> str:
    counters = ", ".join(f"{k} {v}" for k, v in job.progress.counters.items() if v)
    return counters or job.progress.message or job.status


async def follow(
    source: JobSource, job_id: str, *, show_events: bool = False, interval: float = 0.25
) -> JobRead:
    """Poll the job (and its events when asked) with a progress bar until it ends."""
    job = await source.job(job_id)
    console.print(f"{job.kind} job {job.id}")
    last = 0
    with progress_bar() as progress:
        bar = progress.add_task(
            job.kind, total=job.progress.total, completed=job.progress.done, note=_note(job)
        )
        while True:
            events = await source.events(job_id, last) if show_events else []
            for ev in events:
                last = ev.id
                if ev.kind != "progress":
                    data = json.dumps(ev.data) if ev.data else ""
                    progress.console.print(
                        f"[dim]{ev.created_at:%H:%M:%S}[/] {ev.kind} {ev.message or ''} {data}",
                        highlight=False,
                    )
            job = await source.job(job_id)
            progress.update(
                bar, completed=job.progress.done, total=job.progress.total, note=_note(job)
            )
            # Ends only after a poll that brought no new events, so none is left unprinted.
            if job.status in TERMINAL and not events:
                if job.status == "succeeded" and job.progress.total:
                    progress.update(bar, completed=job.progress.total)
                return job
            await asyncio.sleep(interval)


def finish(job: JobRead) -> dict[str, Any]:
    """The result of a job that succeeded; otherwise its status and error, and exit 1."""
    if job.status != "succeeded":
        err_console.print(f"{styled(job.status)}: {job.error or ''}", highlight=False)
        raise typer.Exit(1)
    return job.result or {}


async def run_here(runtime: Runtime, kind: str, params: dict[str, Any]) -> JobRead:
    """Create a job and run it in this process (no server needed), following it with the
    bar; when a server's worker claims it first, follow that one instead."""
    from foredeck.db import transaction
    from foredeck.jobs import service as jobs_service

    async with transaction(runtime.sessionmaker) as session:
        job_id = (await jobs_service.create_job(session, kind=kind, params=params)).id
    task = asyncio.create_task(_claim_and_run(runtime, job_id))
    try:
        job = await follow(LocalJobs(runtime.sessionmaker), job_id)
    except BaseException:
        task.cancel()
        raise
    await task
    return job


async def _claim_and_run(runtime: Runtime, job_id: str) -> None:
    from foredeck.workers.runner import JobRunner

    runner = JobRunner(runtime, f"cli@{socket.gethostname()}:{os.getpid()}")
    source = LocalJobs(runtime.sessionmaker)
    # A job waiting for a lock (or a paused queue) is claimed once it may run, as a
    # worker would; one that another worker took is left to it.
    while True:
        claimed = await runner.claim(limit=1, job_id=job_id)
        if claimed:
            await runner.execute(claimed[0])
            return
        if (await source.job(job_id)).status != "queued":
            return
        await asyncio.sleep(1)
