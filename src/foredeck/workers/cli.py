"""`foredeck workers list|pause|resume|drain` and `foredeck worker` (the Celery worker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.cli.common import console, err_console, load_config
from foredeck.cli.jobs import DataDir, _run

workers_app = typer.Typer(help="Workers: list, pause, resume, drain.", no_args_is_help=True)


@workers_app.command("list")
def workers_list(data_dir: DataDir = None) -> None:
    """List workers with their status and counters."""
    from foredeck.jobs.settings import JobSettings
    from foredeck.workers import service as workers_service

    beat = JobSettings().worker_heartbeat_seconds

    async def fn(session: AsyncSession) -> tuple[list[Any], dict[str, Any]]:
        workers = await workers_service.list_workers(session)
        rows = [(w, workers_service.effective_status(w, beat)) for w in workers]
        return rows, await workers_service.active_controls(session)

    rows, controls = _run(data_dir, fn)
    table = Table(
        "id", "role", "host", "pid", "status", "slots", "processed", "failed", "heartbeat"
    )
    for w, status in rows:
        table.add_row(
            w.id,
            w.role,
            w.host,
            str(w.pid),
            status,
            f"{w.running_jobs}/{w.concurrency}",
            str(w.processed),
            str(w.failed),
            w.heartbeat_at.strftime("%H:%M:%S"),
        )
    console.print(table)
    if controls:
        console.print("controls: " + ", ".join(sorted(controls)))


def _publish_control(data_dir: Path | None, action: str) -> None:
    """Tell running processes at once over Redis pub/sub (else they see it within a beat)."""
    config = load_config(data_dir)
    if not config.redis_url:
        return
    import redis

    from foredeck.telemetry.pubsub import CHANNEL_PREFIX

    client = redis.Redis.from_url(config.redis_url)
    try:
        client.publish(
            CHANNEL_PREFIX + "workers",
            json.dumps({"topic": "workers", "data": {"action": action, "control": True}}),
        )
    except Exception:
        pass
    finally:
        client.close()


@workers_app.command("pause")
def workers_pause(
    worker_id: Annotated[str | None, typer.Argument(help="A worker id; all when left out")] = None,
    data_dir: DataDir = None,
) -> None:
    """Pause one worker, or all of them."""
    from foredeck.workers import service as workers_service

    async def fn(session: AsyncSession) -> None:
        if worker_id:
            await workers_service.set_worker_paused(session, worker_id, True)
        else:
            await workers_service.pause_all(session)

    _run(data_dir, fn)
    _publish_control(data_dir, "pause")
    console.print(f"paused {worker_id or 'all workers'}")


@workers_app.command("resume")
def workers_resume(
    worker_id: Annotated[str | None, typer.Argument(help="A worker id; all when left out")] = None,
    data_dir: DataDir = None,
) -> None:
    """Resume one worker, or all of them."""
    from foredeck.workers import service as workers_service

    async def fn(session: AsyncSession) -> None:
        if worker_id:
            await workers_service.set_worker_paused(session, worker_id, False)
        else:
            await workers_service.resume_all(session)

    _run(data_dir, fn)
    _publish_control(data_dir, "resume")
    console.print(f"resumed {worker_id or 'all workers'}")


@workers_app.command("drain")
def workers_drain(
    off: Annotated[bool, typer.Option("--off", help="End the drain now")] = False,
    data_dir: DataDir = None,
) -> None:
    """Refuse new jobs until the queue is empty (or --off to end it)."""
    from foredeck.workers import service as workers_service

    async def fn(session: AsyncSession) -> None:
        if off:
            await workers_service.undrain(session)
        else:
            await workers_service.drain(session, by="cli")

    _run(data_dir, fn)
    _publish_control(data_dir, "undrain" if off else "drain")
    console.print(
        "drain ended" if off else "draining: new jobs are refused until the queue empties"
    )


def worker(
    queues: Annotated[
        str | None, typer.Option("--queues", "-Q", help="Comma-separated queues (default: all)")
    ] = None,
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", min=1, help="Jobs at once")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Worker id (default foredeck@<host>)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run a Celery worker (scale-out mode: needs FOREDECK_REDIS_URL)."""
    config = load_config(data_dir)
    if not config.redis_url:
        err_console.print("[red]foredeck worker needs FOREDECK_REDIS_URL (scale-out mode)[/]")
        raise typer.Exit(2)
    from foredeck.workers.celery_app import run_worker

    run_worker(
        config,
        queues=[q.strip() for q in queues.split(",") if q.strip()] if queues else None,
        concurrency=concurrency or max(1, config.workers),
        name=name,
    )
