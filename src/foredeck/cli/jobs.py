"""CLI of the job engine: `foredeck jobs ...`; `foredeck workers` and `foredeck worker` come
from foredeck.cli.workers.

Without --url they work on the database directly (no server needed), so they show and
control the same jobs as the API in both deployment modes; with --url (FOREDECK_URL) they
call that server's API.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.cli.common import DataDir, console, load_config, reported, run_in_session, run_local
from foredeck.cli.follow import LocalJobs, RemoteJobs, follow, run_here, styled
from foredeck.cli.remote import Token, Url, run_remote
from foredeck.kit.runtime import Runtime

T = TypeVar("T")
jobs_app = typer.Typer(help="Background jobs: list, inspect, control, watch.", no_args_is_help=True)
__all__ = ["DataDir", "jobs_app", "register"]


def _run(data_dir: Path | None, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """fn in one committed transaction on the local database; errors exit 1 (the workers
    commands use it)."""
    with reported():
        return run_in_session(load_config(data_dir), fn)


def _percent(job: Any) -> str:
    percent = job.progress.percent
    return f"{percent:.0f}%" if percent is not None else ""


@jobs_app.command("list")
def jobs_list(
    status: Annotated[list[str] | None, typer.Option(help="Filter by status (repeatable)")] = None,
    kind: Annotated[list[str] | None, typer.Option(help="Filter by kind (repeatable)")] = None,
    queue: Annotated[str | None, typer.Option(help="Filter by queue")] = None,
    q: Annotated[
        str | None, typer.Option("--search", "-q", help="Text in id, kind or error")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """List jobs, newest first."""
    queues = [queue] if queue else None
    if url:
        page = run_remote(
            url,
            token,
            lambda c: c.list_jobs(
                status=status,  # type: ignore[arg-type]
                kind=kind,
                queue=queues,
                q=q,
                per_page=limit,
            ),
        )
        rows, total, exact = page.data, page.meta.total, page.meta.total_exact
    else:

        async def fn(runtime: Runtime) -> tuple[list[Any], int, bool]:
            from foredeck.jobs import service as jobs_service
            from foredeck.jobs.schemas import job_read

            stmt = jobs_service.filtered_jobs(status=status, kind=kind, queue=queues, q=q)
            async with runtime.sessionmaker() as session:
                found = await jobs_service.list_jobs(session, stmt, offset=0, limit=limit)
                return [job_read(j) for j in found.rows], found.total, found.exact

        rows, total, exact = run_local(load_config(data_dir), fn)
    if as_json:
        print(json.dumps([j.model_dump(mode="json") for j in rows], indent=2))
        return
    table = Table("id", "kind", "queue", "status", "progress", "attempts", "created", "error")
    for j in rows:
        table.add_row(
            j.id,
            j.kind,
            j.queue,
            styled(j.status),
            _percent(j),
            f"{j.attempts}/{j.max_attempts}",
            j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            (j.error or "")[:60],
        )
    console.print(table)
    console.print(f"{len(rows)} of {total:,}{'' if exact else '+'} jobs")


@jobs_app.command("show")
def jobs_show(job_id: str, data_dir: DataDir = None, url: Url = None, token: Token = None) -> None:
    """Show one job with its runs."""
    if url:

        async def remote(client: Any) -> tuple[Any, list[Any]]:
            return await client.get_job(job_id), await client.list_job_runs(job_id)

        job, runs = run_remote(url, token, remote)
    else:

        async def fn(runtime: Runtime) -> tuple[Any, list[Any]]:
            from foredeck.jobs import service as jobs_service
            from foredeck.jobs.schemas import RunRead

            async with runtime.sessionmaker() as session:
                rows = await jobs_service.list_runs(session, job_id)
                runs = [RunRead.model_validate(r, from_attributes=True) for r in rows]
            return await LocalJobs(runtime.sessionmaker).job(job_id), runs

        job, runs = run_local(load_config(data_dir), fn)
    data = job.model_dump(mode="json")
    tb = data.pop("error_traceback")
    console.print_json(json.dumps(data))
    if tb:
        console.print(f"[red]{tb}[/]", highlight=False)
    table = Table("attempt", "worker", "status", "started", "duration ms", "error")
    for run in runs:
        table.add_row(
            str(run.attempt),
            run.worker_id or "",
            styled(run.status),
            run.started_at.strftime("%H:%M:%S"),
            str(run.duration_ms or ""),
            (run.error or "")[:60],
        )
    console.print(table)


def _control(job_id: str, action: str, data_dir: Any, url: str | None, token: str | None) -> None:
    if url:
        job = run_remote(url, token, lambda c: c.control_job(job_id, {"action": action}))
    else:

        async def fn(runtime: Runtime) -> Any:
            from foredeck.db import transaction
            from foredeck.jobs import service as jobs_service
            from foredeck.jobs.schemas import job_read

            async with transaction(runtime.sessionmaker) as session:
                return job_read(await jobs_service.control_job(session, job_id, action))

        job = run_local(load_config(data_dir), fn)
    console.print(f"job {job_id}: {styled(job.status)}")


@jobs_app.command("cancel")
def jobs_cancel(
    job_id: str, data_dir: DataDir = None, url: Url = None, token: Token = None
) -> None:
    """Cancel a job (a running one stops at its next check)."""
    _control(job_id, "cancel", data_dir, url, token)


@jobs_app.command("retry")
def jobs_retry(job_id: str, data_dir: DataDir = None, url: Url = None, token: Token = None) -> None:
    """Queue a failed or cancelled job again."""
    _control(job_id, "retry", data_dir, url, token)


@jobs_app.command("pause")
def jobs_pause(job_id: str, data_dir: DataDir = None, url: Url = None, token: Token = None) -> None:
    """Pause a job at its next check."""
    _control(job_id, "pause", data_dir, url, token)


@jobs_app.command("resume")
def jobs_resume(
    job_id: str, data_dir: DataDir = None, url: Url = None, token: Token = None
) -> None:
    """Resume a paused job from its last checkpoint."""
    _control(job_id, "resume", data_dir, url, token)


def _end(job: Any) -> None:
    console.print(f"job {job.id}: {styled(job.status)}")
    if job.status != "succeeded":
        raise typer.Exit(1)


@jobs_app.command("watch")
def jobs_watch(
    job_id: str,
    data_dir: DataDir = None,
    quiet: Annotated[bool, typer.Option(help="Only the bar, no event lines")] = False,
    url: Url = None,
    token: Token = None,
) -> None:
    """Follow a job's events with a progress bar until it ends (exit 1 unless it succeeded)."""
    if url:
        job = run_remote(url, token, lambda c: follow(RemoteJobs(c), job_id, show_events=not quiet))
    else:

        async def fn(runtime: Runtime) -> Any:
            return await follow(LocalJobs(runtime.sessionmaker), job_id, show_events=not quiet)

        job = run_local(load_config(data_dir), fn)
    _end(job)


@jobs_app.command("test")
def jobs_test(
    count: Annotated[int, typer.Option(min=1, help="How far the job counts")] = 10,
    delay: Annotated[float, typer.Option(min=0, max=10, help="Seconds per step")] = 0.2,
    watch: Annotated[bool, typer.Option(help="Follow it to the end")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Queue a test job that counts with progress (checks the job engine end to end).

    Locally, --watch runs it in this process; without it a worker or server picks it up."""
    params = {"count": count, "delay": delay}
    if url:

        async def remote(client: Any) -> Any:
            created = await client.create_test_job(params)
            return await follow(RemoteJobs(client), created.job_id) if watch else created.job

        job = run_remote(url, token, remote)
    else:

        async def fn(runtime: Runtime) -> Any:
            from foredeck.db import transaction
            from foredeck.jobs import service as jobs_service
            from foredeck.jobs.schemas import job_read

            if watch:
                return await run_here(runtime, "test", params)
            async with transaction(runtime.sessionmaker) as session:
                return job_read(await jobs_service.create_job(session, kind="test", params=params))

        job = run_local(load_config(data_dir), fn)
    if watch:
        _end(job)
    else:
        console.print(f"test job {job.id}: {styled(job.status)}")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    from foredeck.cli.workers import worker, workers_app

    app.add_typer(jobs_app, name="jobs")
    app.add_typer(workers_app, name="workers")
    app.command("worker")(worker)
