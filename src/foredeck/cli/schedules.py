"""`foredeck schedules ...`: list, create, pause, resume, run now and delete schedules.

Without --url they work on the database directly (the running servers pick the change up at
their next tick); with --url (FOREDECK_URL) they call that server's API. Both go through the
same checks as the API.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.cli.common import DataDir, console, load_config, reported, run_in_session
from foredeck.cli.remote import Token, Url, run_remote

schedules_app = typer.Typer(
    help="Recurring jobs: imports, exports, rebuilds, generations, retention.",
    no_args_is_help=True,
)


def _local(data_dir: Any, fn: Any) -> Any:
    with reported():
        return run_in_session(load_config(data_dir), fn)


def _read(schedule: Any) -> dict[str, Any]:
    from foredeck.schedules.router import schedule_read

    return schedule_read(schedule).model_dump(mode="json")


def _when(schedule: dict[str, Any]) -> str:
    if schedule.get("cron"):
        return f"{schedule['cron']} ({schedule['timezone']})"
    return f"every {schedule['interval_seconds']} s"


def _show(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(
        "id", "name", "kind", "when", "state", "next fire (UTC)", "last outcome", "last job"
    )
    for s in rows:
        table.add_row(
            str(s["id"]),
            s["name"] + (" (built-in)" if s["builtin"] else ""),
            s["kind"],
            _when(s),
            "enabled" if s["enabled"] else "paused",
            (s["next_fire_at"] or "")[:19] if s["enabled"] else "",
            s["last_outcome"] or "",
            s["last_job_id"] or "",
        )
    console.print(table)


@schedules_app.command("list")
def schedules_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Every schedule with its next fire time and last outcome."""
    if url:
        rows = [
            s.model_dump(mode="json") for s in run_remote(url, token, lambda c: c.list_schedules())
        ]
    else:

        async def fn(session: AsyncSession) -> list[dict[str, Any]]:
            from foredeck.schedules import service

            return [_read(s) for s in await service.list_schedules(session)]

        rows = _local(data_dir, fn)
    _show(rows, as_json)


@schedules_app.command("create")
def schedules_create(
    name: Annotated[str, typer.Argument(help="A unique name")],
    kind: Annotated[
        str, typer.Option(help="Job kind: import, export, index_rebuild, generate, ...")
    ],
    cron: Annotated[str | None, typer.Option(help="Cron expression, e.g. '0 3 * * *'")] = None,
    every: Annotated[
        int | None, typer.Option(help="Interval in seconds (instead of --cron)")
    ] = None,
    params: Annotated[str, typer.Option(help="The job's params as JSON")] = "{}",
    timezone: Annotated[str, typer.Option("--tz", help="IANA time zone of the cron")] = "UTC",
    misfire: Annotated[str, typer.Option(help="skip, run_once or catch_up")] = "run_once",
    catch_up_max: Annotated[int, typer.Option(help="misfire=catch_up: at most N runs")] = 1,
    overlap: Annotated[str, typer.Option(help="skip or queue")] = "skip",
    paused: Annotated[bool, typer.Option("--paused", help="Store it paused")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Store a schedule (checked like the API: kind, params, cron, zone)."""
    try:
        parsed = json.loads(params)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--params is not JSON: {exc}") from exc
    body = {
        "name": name,
        "kind": kind,
        "params": parsed,
        "cron": cron,
        "interval_seconds": every,
        "timezone": timezone,
        "enabled": not paused,
        "misfire": misfire,
        "catch_up_max": catch_up_max,
        "overlap": overlap,
    }
    if url:
        row = run_remote(url, token, lambda c: c.create_schedule(body)).model_dump(mode="json")
    else:
        from foredeck.schedules.schemas import ScheduleCreate

        with reported():
            checked = _validated(ScheduleCreate, body)

        async def fn(session: AsyncSession) -> dict[str, Any]:
            from foredeck.schedules import service

            return _read(
                await service.create_schedule(session, data=checked, config=load_config(data_dir))
            )

        row = _local(data_dir, fn)
    console.print(f"created schedule {row['id']} {row['name']}; next fire {row['next_fire_at']}")


def _validated(model: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The body as the API would parse it; a bad field exits 1 naming it."""
    from pydantic import ValidationError

    from foredeck.errors import ValidationFailed

    try:
        return model.model_validate(body).model_dump()  # type: ignore[no-any-return]
    except ValidationError as exc:
        raise ValidationFailed.from_pydantic(exc, "The schedule is not valid") from exc


def _find(session: AsyncSession, ref: str) -> Any:
    from foredeck.schedules import service

    async def lookup() -> Any:
        if ref.isdigit():
            return await service.get_schedule(session, int(ref))
        found = await service.get_by_name(session, ref)
        if found is None:
            from foredeck.errors import NotFound

            raise NotFound(f"No schedule {ref}")
        return found

    return lookup()


def _remote_id(url: str, token: str | None, ref: str) -> int:
    if ref.isdigit():
        return int(ref)
    for s in run_remote(url, token, lambda c: c.list_schedules()):
        if s.name == ref:
            return s.id
    from foredeck.cli.common import say_error

    say_error(f"No schedule {ref}")
    raise typer.Exit(1)


Ref = Annotated[str, typer.Argument(help="Schedule id or name")]


def _toggle(ref: str, enabled: bool, data_dir: Any, url: str | None, token: str | None) -> None:
    if url:
        sid = _remote_id(url, token, ref)
        action = (
            (lambda c: c.resume_schedule(sid)) if enabled else (lambda c: c.pause_schedule(sid))
        )
        row = run_remote(url, token, action).model_dump(mode="json")
    else:

        async def fn(session: AsyncSession) -> dict[str, Any]:
            from foredeck.schedules import service

            schedule = await _find(session, ref)
            return _read(
                await service.set_enabled(
                    session, schedule_id=schedule.id, enabled=enabled, config=load_config(data_dir)
                )
            )

        row = _local(data_dir, fn)
    state = f"resumed; next fire {row['next_fire_at']}" if enabled else "paused"
    console.print(f"schedule {row['name']} {state}")


@schedules_app.command("pause")
def schedules_pause(
    ref: Ref, data_dir: DataDir = None, url: Url = None, token: Token = None
) -> None:
    """Stop a schedule firing (kept across restarts)."""
    _toggle(ref, False, data_dir, url, token)


@schedules_app.command("resume")
def schedules_resume(
    ref: Ref, data_dir: DataDir = None, url: Url = None, token: Token = None
) -> None:
    """Fire again from now on."""
    _toggle(ref, True, data_dir, url, token)


@schedules_app.command("run-now")
def schedules_run_now(
    ref: Ref, data_dir: DataDir = None, url: Url = None, token: Token = None
) -> None:
    """Queue one run now (follow it with `foredeck jobs watch JOB_ID`)."""
    if url:
        sid = _remote_id(url, token, ref)
        job_id = run_remote(url, token, lambda c: c.run_schedule_now(sid)).job_id
    else:

        async def fn(session: AsyncSession) -> str:
            from foredeck.schedules import service

            schedule = await _find(session, ref)
            return (await service.run_now(session, schedule_id=schedule.id)).id

        job_id = _local(data_dir, fn)
    console.print(f"queued job {job_id}")


@schedules_app.command("delete")
def schedules_delete(
    ref: Ref, data_dir: DataDir = None, url: Url = None, token: Token = None
) -> None:
    """Delete a schedule (its jobs stay; built-in schedules can only be paused)."""
    if url:
        sid = _remote_id(url, token, ref)
        run_remote(url, token, lambda c: c.delete_schedule(sid))
    else:

        async def fn(session: AsyncSession) -> None:
            from foredeck.schedules import service

            schedule = await _find(session, ref)
            await service.delete_schedule(session, schedule_id=schedule.id)

        _local(data_dir, fn)
    console.print(f"deleted schedule {ref}")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    app.add_typer(schedules_app, name="schedules")
