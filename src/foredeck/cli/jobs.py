"""CLI of the job engine: `foredeck jobs ...`; `foredeck workers` and `foredeck worker` come
from foredeck.workers.cli.

They work on the database directly (no server needed), so they show and control the same
jobs and workers as the API in both modes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.cli.common import console, err_console, load_config
from foredeck.errors import AppError

T = TypeVar("T")
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (FOREDECK_DATA_DIR)")
]
jobs_app = typer.Typer(help="Background jobs: list, inspect, control, watch.", no_args_is_help=True)
STATUS_STYLE = {
    "queued": "cyan",
    "running": "blue",
    "paused": "yellow",
    "cancelling": "yellow",
    "cancelled": "dim",
    "succeeded": "green",
    "failed": "red",
}


def _run(data_dir: Path | None, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run fn in one committed transaction on the configured database; AppError -> exit 1."""
    from foredeck import migrate
    from foredeck.db import make_engine, make_sessionmaker, transaction
    from foredeck.logging import configure_logging

    config = load_config(data_dir)
    configure_logging(config.effective_log_format, "WARNING")
    migrate.upgrade(config)

    async def main() -> T:
        engine = make_engine(config)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await fn(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except AppError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/]")
        for detail in exc.details:
            err_console.print(f"  {detail.get('field') or ''}: {detail.get('message')}")
        raise typer.Exit(1) from exc


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _percent(job: Any) -> str:
    return f"{job.progress_percent:.0f}%" if job.progress_percent is not None else ""


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
) -> None:
    """List jobs, newest first."""
    from foredeck.jobs import service as jobs_service
    from foredeck.jobs.schemas import job_read

    async def fn(session: AsyncSession) -> tuple[list[Any], int]:
        stmt = jobs_service.filtered_jobs(
            status=status, kind=kind, queue=[queue] if queue else None, q=q
        )
        return await jobs_service.list_jobs(session, stmt, offset=0, limit=limit)

    rows, total = _run(data_dir, fn)
    if as_json:
        print(json.dumps([job_read(j).model_dump(mode="json") for j in rows], indent=2))
        return
    table = Table("id", "kind", "queue", "status", "progress", "attempts", "created", "error")
    for j in rows:
        table.add_row(
            j.id,
            j.kind,
            j.queue,
            _status(j.status),
            _percent(j),
            f"{j.attempts}/{j.max_attempts}",
            j.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            (j.error or "")[:60],
        )
    console.print(table)
    console.print(f"{len(rows)} of {total} jobs")


@jobs_app.command("show")
def jobs_show(job_id: str, data_dir: DataDir = None) -> None:
    """Show one job with its runs."""
    from foredeck.jobs import service as jobs_service
    from foredeck.jobs.schemas import RunRead, job_read

    async def fn(session: AsyncSession) -> tuple[Any, list[Any]]:
        job = await jobs_service.get_job(session, job_id)
        return job, await jobs_service.list_runs(session, job_id)

    job, runs = _run(data_dir, fn)
    data = job_read(job).model_dump(mode="json")
    tb = data.pop("error_traceback")
    console.print_json(json.dumps(data))
    if tb:
        console.print(f"[red]{tb}[/]")
    table = Table("attempt", "worker", "status", "started", "duration ms", "error")
    for r in runs:
        run = RunRead.model_validate(r, from_attributes=True)
        table.add_row(
            str(run.attempt),
            run.worker_id or "",
            _status(run.status),
            run.started_at.strftime("%H:%M:%S"),
            str(run.duration_ms or ""),
            (run.error or "")[:60],
        )
    console.print(table)


def _control(job_id: str, action: str, data_dir: Path | None) -> None:
    from foredeck.jobs import service as jobs_service

    async def fn(session: AsyncSession) -> str:
        job = await jobs_service.control_job(session, job_id, action)
        return job.status

    console.print(f"job {job_id}: {_status(_run(data_dir, fn))}")


@jobs_app.command("cancel")
def jobs_cancel(job_id: str, data_dir: DataDir = None) -> None:
    """Cancel a job (a running one stops at its next check)."""
    _control(job_id, "cancel", data_dir)


@jobs_app.command("retry")
def jobs_retry(job_id: str, data_dir: DataDir = None) -> None:
    """Queue a failed or cancelled job again."""
    _control(job_id, "retry", data_dir)


@jobs_app.command("pause")
def jobs_pause(job_id: str, data_dir: DataDir = None) -> None:
    """Pause a job at its next check."""
    _control(job_id, "pause", data_dir)


@jobs_app.command("resume")
def jobs_resume(job_id: str, data_dir: DataDir = None) -> None:
    """Resume a paused job from its last checkpoint."""
    _control(job_id, "resume", data_dir)


@jobs_app.command("watch")
def jobs_watch(
    job_id: str,
    data_dir: DataDir = None,
    quiet: Annotated[bool, typer.Option(help="Only the bar, no event lines")] = False,
) -> None:
    """Follow a job's event stream with a progress bar until it ends."""
    from foredeck import migrate
    from foredeck.db import make_engine, make_sessionmaker
    from foredeck.jobs import service as jobs_service
    from foredeck.logging import configure_logging
    from foredeck.models.jobs import TERMINAL_STATUSES

    config = load_config(data_dir)
    configure_logging(config.effective_log_format, "WARNING")
    migrate.upgrade(config)

    async def main() -> str:
        engine = make_engine(config)
        sessionmaker = make_sessionmaker(engine)
        last = 0
        try:
            async with sessionmaker() as session:
                job = await jobs_service.get_job(session, job_id)
            columns = (
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[note]}"),
            )
            with Progress(*columns, console=console) as progress:
                bar = progress.add_task(
                    job.kind,
                    total=job.progress_total,
                    completed=job.progress_done,
                    note=job.status,
                )
                while True:
                    async with sessionmaker() as session:
                        events = await jobs_service.list_events(session, job_id, after_id=last)
                        job = await jobs_service.get_job(session, job_id)
                    for ev in events:
                        last = ev.id
                        if ev.kind == "progress":
                            progress.update(
                                bar,
                                completed=ev.data.get("done") or 0,
                                total=ev.data.get("total"),
                                note=ev.message or "",
                            )
                        elif ev.kind == "status":
                            progress.update(bar, note=ev.data.get("status", ""))
                        if not quiet and ev.kind != "progress":
                            progress.console.print(
                                f"[dim]{ev.created_at:%H:%M:%S}[/] {ev.kind} "
                                f"{ev.message or ''} {json.dumps(ev.data) if ev.data else ''}"
                            )
                    if job.status in TERMINAL_STATUSES and not events:
                        if job.status == "succeeded" and job.progress_total:
                            progress.update(bar, completed=job.progress_total)
                        return str(job.status)
                    await asyncio.sleep(0.25)
        finally:
            await engine.dispose()

    try:
        status = asyncio.run(main())
    except AppError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/]")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    console.print(f"job {job_id}: {_status(status)}")
    if status != "succeeded":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    from foredeck.workers.cli import worker, workers_app

    app.add_typer(jobs_app, name="jobs")
    app.add_typer(workers_app, name="workers")
    app.command("worker")(worker)
