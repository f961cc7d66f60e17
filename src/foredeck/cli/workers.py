"""`foredeck workers list|pause|resume|drain|undrain` and `foredeck worker` (the Celery worker).

Without --url the workers commands change the database directly (running processes see it
within a heartbeat, at once over Redis in scale-out mode); with --url (FOREDECK_URL) they
call that server's /api/v1/workers endpoints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.cli.common import console, err_console, load_config
from foredeck.cli.jobs import DataDir, _run
from foredeck.cli.remote import Token, Url, run_remote
from foredeck.workers.schemas import ControlsRead, WorkerRead, worker_read

if TYPE_CHECKING:
    from foredeck.client import AsyncClient

workers_app = typer.Typer(
    help="Workers: list, pause, resume, drain, undrain.", no_args_is_help=True
)
WorkerId = Annotated[str | None, typer.Argument(help="A worker id; all when left out")]


def _print_workers(workers: list[WorkerRead], controls: ControlsRead) -> None:
    table = Table(
        "id", "role", "host", "pid", "status", "slots", "processed", "failed", "heartbeat"
    )
    for w in workers:
        table.add_row(
            w.id,
            w.role,
            w.host,
            str(w.pid),
            w.status,
            f"{w.running_jobs}/{w.concurrency}",
            str(w.processed),
            str(w.failed),
            w.heartbeat_at.strftime("%H:%M:%S"),
        )
    console.print(table)
    active = [name for name in ("draining", "paused_all") if getattr(controls, name)]
    active += [f"queue {q} paused" for q in controls.paused_queues]
    if active:
        console.print("controls: " + ", ".join(active))


@workers_app.command("list")
def workers_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """List workers with their status and counters."""
    if url:

        async def remote(client: AsyncClient) -> tuple[list[WorkerRead], ControlsRead]:
            return await client.list_workers(), await client.get_worker_controls()

        workers, controls = run_remote(url, token, remote)
    else:
        from foredeck.jobs.settings import JobSettings
        from foredeck.workers import service as workers_service

        beat = JobSettings().worker_heartbeat_seconds

        async def fn(session: AsyncSession) -> tuple[list[WorkerRead], ControlsRead]:
            found = await workers_service.list_workers(session)
            rows = [worker_read(w, workers_service.effective_status(w, beat)) for w in found]
            return rows, await workers_service.read_controls(session)

        workers, controls = _run(data_dir, fn)
    if as_json:
        data = {
            "workers": [w.model_dump(mode="json") for w in workers],
            "controls": controls.model_dump(mode="json"),
        }
        print(json.dumps(data, indent=2))
        return
    _print_workers(workers, controls)


def _publish_control(data_dir: Path | None, action: str) -> None:
    """Tell running processes at once over Redis pub/sub (else they see it within a beat);
    the API does this itself for a change made through it."""
    config = load_config(data_dir)
    if not config.redis_url:
        return
    import redis

    from foredeck.kit.pubsub import CHANNEL_PREFIX

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


def _set_paused(
    paused: bool, worker_id: str | None, data_dir: Path | None, url: str | None, token: str | None
) -> None:
    from foredeck.jobs import controls as job_controls
    from foredeck.workers import service as workers_service

    if url:

        async def remote(client: AsyncClient) -> object:
            if worker_id:
                return await (client.pause_worker if paused else client.resume_worker)(worker_id)
            return await (client.pause_all_workers if paused else client.resume_all_workers)()

        run_remote(url, token, remote)
        return

    async def fn(session: AsyncSession) -> None:
        if worker_id:
            await workers_service.set_worker_paused(session, worker_id, paused)
        elif paused:
            await job_controls.pause_all(session)
        else:
            await workers_service.resume_all(session)

    _run(data_dir, fn)
    _publish_control(data_dir, "pause" if paused else "resume")


@workers_app.command("pause")
def workers_pause(
    worker_id: WorkerId = None, data_dir: DataDir = None, url: Url = None, token: Token = None
) -> None:
    """Pause one worker, or all of them (running jobs finish)."""
    _set_paused(True, worker_id, data_dir, url, token)
    console.print(f"paused {worker_id or 'all workers'}")


@workers_app.command("resume")
def workers_resume(
    worker_id: WorkerId = None, data_dir: DataDir = None, url: Url = None, token: Token = None
) -> None:
    """Resume one worker, or all of them (resuming all clears per-worker pauses too)."""
    _set_paused(False, worker_id, data_dir, url, token)
    console.print(f"resumed {worker_id or 'all workers'}")


def _set_drain(on: bool, data_dir: Path | None, url: str | None, token: str | None) -> None:
    from foredeck.jobs import controls as job_controls

    if url:
        run_remote(url, token, lambda c: c.drain_workers() if on else c.undrain_workers())
    else:

        async def fn(session: AsyncSession) -> None:
            if on:
                await job_controls.drain(session, by="cli")
            else:
                await job_controls.undrain(session)

        _run(data_dir, fn)
        _publish_control(data_dir, "drain" if on else "undrain")
    console.print("draining: new jobs are refused until the queue empties" if on else "drain ended")


@workers_app.command("drain")
def workers_drain(
    off: Annotated[bool, typer.Option("--off", help="End the drain now (as `undrain`)")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Refuse new jobs until the queue is empty (or --off to end it)."""
    _set_drain(not off, data_dir, url, token)


@workers_app.command("undrain")
def workers_undrain(data_dir: DataDir = None, url: Url = None, token: Token = None) -> None:
    """End a drain now: new jobs are accepted again."""
    _set_drain(False, data_dir, url, token)


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
    run_worker(
        config,
        queues=[q.strip() for q in queues.split(",") if q.strip()] if queues else None,
        concurrency=concurrency or max(1, config.workers),
        name=name,
    )


def _logging_configured(**_kw: Any) -> None:
    pass


def run_worker(
    config: Any, *, queues: list[str] | None, concurrency: int, name: str | None
) -> None:
    """`foredeck worker`: foredeck's runtime (no embedded pool, no HTTP) plus a Celery worker."""
    import socket

    from celery import signals

    from foredeck.app import running
    from foredeck.jobs.registry import HANDLERS
    from foredeck.kit.runtime import Runtime
    from foredeck.logging import configure_logging
    from foredeck.workers.celery_app import WorkerRuntime, celery_app, configure, say_as_log

    # A worker serves no HTTP, so it needs no rate limiter (nor its Redis store).
    config = config.model_copy(update={"rate_limit_enabled": False})
    configure(config.redis_url)
    chosen = queues or sorted({spec.queue for spec in HANDLERS.values()} | {"default"})
    hostname = name or f"foredeck@{socket.gethostname()}"
    configure_logging(config.effective_log_format, config.log_level)
    runtime = WorkerRuntime(
        Runtime(config, worker_process=True), running, hostname, chosen, concurrency
    )

    def _interrupt(**_kw: Any) -> None:
        runtime.interrupt()

    signals.worker_shutting_down.connect(_interrupt, weak=False)
    # A receiver here tells Celery that logging is configured (done above): Celery
    # then adds no plain-text handlers of its own, so JSON mode stays JSON.
    signals.setup_logging.connect(_logging_configured, weak=False)
    if config.effective_log_format == "json":
        import celery.apps.worker as celery_worker

        # Celery prints its shutdown notices straight to the terminal, past logging.
        celery_worker.safe_say = say_as_log  # type: ignore[assignment]
    runtime.start()
    try:
        worker = celery_app.Worker(
            hostname=hostname,
            queues=chosen,
            concurrency=concurrency,
            pool="threads",
            loglevel=config.log_level.upper(),
            without_gossip=True,
            without_mingle=True,
            # The banner is plain text: in JSON mode the output is JSON lines only.
            quiet=config.effective_log_format == "json",
        )
        worker.start()
    finally:
        runtime.stop()
