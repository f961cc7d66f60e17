"""CLI commands of the operations and settings domains: import, export, settings."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from foredeck import migrate
from foredeck.cli.common import console, err_console, load_config
from foredeck.config import Config
from foredeck.errors import AppError

T = TypeVar("T")
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (FOREDECK_DATA_DIR)")
]
settings_app = typer.Typer(help="Operator settings stored in the database.", no_args_is_help=True)


def parse_mapping(text: str | None) -> dict[str, Any]:
    """--mapping as JSON, or as content=text,external_id=id,metadata=a+b."""
    if not text:
        return {}
    if text.lstrip().startswith("{"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise typer.BadParameter("--mapping JSON must be an object")
        return value
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep:
            raise typer.BadParameter(f"--mapping part {part!r} is not field=column")
        key, value = key.strip(), value.strip()
        if key == "metadata" and value != "*":
            out[key] = [v for v in value.split("+") if v]
        else:
            out[key] = value
    return out


@asynccontextmanager
async def _state(config: Config) -> AsyncIterator[Any]:
    """What the job runner and the handlers need, without starting a server."""
    from foredeck.db import make_engine, make_sessionmaker
    from foredeck.jobs.settings import JobSettings

    engine = make_engine(config)
    state = SimpleNamespace(
        config=config,
        engine=engine,
        sessionmaker=make_sessionmaker(engine),
        redis=None,
        pubsub=None,
        job_settings=JobSettings(),
    )
    try:
        yield state
    finally:
        await engine.dispose()


def _run(config: Config, fn: Callable[[Any], Awaitable[T]]) -> T:
    from foredeck.logging import configure_logging

    configure_logging(config.effective_log_format, "WARNING")
    migrate.upgrade(config)

    async def main() -> T:
        async with _state(config) as state:
            return await fn(state)

    try:
        return asyncio.run(main())
    except AppError as exc:
        err_console.print(f"[red]{exc.code}: {exc.message}[/]")
        for detail in exc.details:
            err_console.print(f"  {detail.get('field') or ''}: {detail.get('message')}")
        raise typer.Exit(1) from exc


async def run_job_with_progress(state: Any, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Create a job, run it in this process (or watch the server that claimed it), show progress."""
    from foredeck.db import transaction
    from foredeck.jobs import service as jobs_service
    from foredeck.models.jobs import TERMINAL_STATUSES, Job
    from foredeck.workers.runner import JobRunner

    async with transaction(state.sessionmaker) as session:
        job = await jobs_service.create_job(session, kind=kind, params=params)
        job_id = job.id
    console.print(f"{kind} job {job_id}")
    runner = JobRunner(state, f"cli@{socket.gethostname()}:{os.getpid()}")
    claimed = await runner.claim(limit=1, job_id=job_id)
    task = asyncio.create_task(runner.execute(claimed[0])) if claimed else None
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[note]}"),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task(kind, total=None, note="")
        while True:
            async with state.sessionmaker() as session:
                row = await session.get(Job, job_id)
                assert row is not None
                counters = row.counters or {}
                note = ", ".join(f"{k} {v}" for k, v in counters.items() if v) or (
                    row.progress_message or row.status
                )
                progress.update(
                    bar, completed=row.progress_done, total=row.progress_total, note=note
                )
                if row.status in TERMINAL_STATUSES:
                    if row.progress_total:
                        progress.update(bar, completed=row.progress_total)
                    final = {"status": row.status, "result": row.result, "error": row.error}
                    break
            await asyncio.sleep(0.2)
    if task is not None:
        await task
    return final


def _finish(final: dict[str, Any]) -> dict[str, Any]:
    if final["status"] != "succeeded":
        err_console.print(f"[red]{final['status']}[/]: {final.get('error') or ''}")
        raise typer.Exit(1)
    return final["result"] or {}


def _stage_local_file(config: Config, source: Path) -> str:
    """Put a local file into the managed import dir (a hard link when possible, else a copy)."""
    from foredeck.operations.sources import imports_dir, safe_filename

    relative = f"uploads/{uuid.uuid4().hex}/{safe_filename(source.name)}"
    target = imports_dir(config) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return relative


def import_cmd(
    source: Annotated[str | None, typer.Argument(help="A file or an http(s) URL")] = None,
    collection: Annotated[str, typer.Option(help="Target collection")] = "default",
    mapping: Annotated[
        str | None,
        typer.Option(help='JSON, or content=text,external_id=id,metadata=a+b (or "*")'),
    ] = None,
    mode: Annotated[str, typer.Option(help="upsert (default), append or replace")] = "upsert",
    format: Annotated[
        str, typer.Option("--format", help="auto, csv, json, jsonl, parquet")
    ] = "auto",
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding (detected if left out)")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option(help="CSV delimiter (sniffed if left out)")
    ] = None,
    sheet: Annotated[str | None, typer.Option(help="Import this configured Google Sheet")] = None,
    max_error_ratio: Annotated[
        float | None, typer.Option(help="Fail past this share of bad rows (default: settings)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Import a file, a URL or a Google Sheet into a collection, with a progress bar."""
    config = load_config(data_dir)
    params: dict[str, Any] = {
        "collection": collection,
        "mode": mode,
        "format": format,
        "encoding": encoding,
        "delimiter": delimiter,
        "mapping": parse_mapping(mapping),
        "max_error_ratio": max_error_ratio,
    }
    if sheet:
        params.update(source="sheet", sheet=sheet)
    elif source and source.startswith(("http://", "https://")):
        params.update(source="url", url=source)
    elif source:
        path = Path(source)
        if not path.is_file():
            err_console.print(f"[red]no such file: {source}[/]")
            raise typer.Exit(2)
        params.update(source="file", delete_after=True, original_name=path.name)
        params["path"] = _stage_local_file(config, path)
    else:
        err_console.print("[red]give a FILE, a URL or --sheet NAME[/]")
        raise typer.Exit(2)

    async def fn(state: Any) -> dict[str, Any]:
        from foredeck.operations import service as operations_service
        from foredeck.operations.schemas import ImportParams

        parsed = operations_service.parse(ImportParams, params)
        async with state.sessionmaker() as session:
            from foredeck.operations import imports

            await imports.precheck(session, config, parsed)
        return await run_job_with_progress(state, "import", parsed.model_dump(mode="json"))

    try:
        result = _finish(_run(config, fn))
    finally:
        if params.get("delete_after"):
            from foredeck.operations.sources import discard_upload

            discard_upload(config, params["path"])
    table = Table("rows read", "inserted", "updated", "unchanged", "skipped", "duplicates")
    table.add_row(
        *(
            str(result.get(k, 0))
            for k in ("rows_read", "inserted", "updated", "unchanged", "skipped", "duplicates")
        )
    )
    console.print(table)
    for err in result.get("errors", [])[:10]:
        err_console.print(f"[yellow]row {err['row']}[/]: {err['reason']}")


def export_cmd(
    format: Annotated[str, typer.Option("--format", help="csv, jsonl, parquet or sheet")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the file")] = None,
    collection: Annotated[str | None, typer.Option(help="Only this collection")] = None,
    memory_type: Annotated[str | None, typer.Option(help="Only this type")] = None,
    q: Annotated[str | None, typer.Option(help="Only records containing this text")] = None,
    sheet: Annotated[str | None, typer.Option(help="format=sheet: a configured sheet")] = None,
    data_dir: DataDir = None,
) -> None:
    """Export records (a collection or a filter) to a file or a Google Sheet."""
    config = load_config(data_dir)
    params = {
        "format": format,
        "collection": collection,
        "memory_type": memory_type,
        "q": q,
        "sheet": sheet,
    }

    async def fn(state: Any) -> dict[str, Any]:
        from foredeck.operations import service as operations_service
        from foredeck.operations.schemas import ExportParams

        parsed = operations_service.parse(ExportParams, params)
        async with state.sessionmaker() as session:
            if parsed.format == "sheet":
                from foredeck.operations.sources import sheet_target, sheets_client

                client, sheets = await sheets_client(session, config)
                await client.aclose()
                sheet_target(sheets, parsed.sheet, parsed.spreadsheet_id, parsed.range)
        return await run_job_with_progress(
            state, "export", parsed.model_dump(mode="json", exclude_none=True)
        )

    result = _finish(_run(config, fn))
    if result.get("file"):
        target = out or Path(result["filename"])
        shutil.copyfile(result["file"], target)
        console.print(
            f"wrote {result['rows']} records ({target.stat().st_size:,} bytes) to {target}"
        )
    else:
        console.print(f"wrote {result.get('rows', 0)} records to the sheet {result.get('range')}")


@settings_app.command("show")
def settings_show(
    section: Annotated[str | None, typer.Argument(help="One section (default: all)")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print settings with whether each section is valid."""
    config = load_config(data_dir)

    async def fn(state: Any) -> Any:
        from foredeck.settings import service as settings_service

        async with state.sessionmaker() as session:
            if section:
                settings_service.section_model(section)
                return {
                    section: await settings_service.section_state(session, section, config=config)
                }
            return (await settings_service.all_sections(session, config=config)).sections

    for name, out in _run(config, fn).items():
        mark = "[green]valid[/]" if out.valid else "[red]invalid[/]"
        console.print(f"[bold]{name}[/] {mark}{'' if out.configured else ' (defaults)'}")
        console.print_json(json.dumps(out.value))
        for err in out.errors:
            console.print(f"  [red]{err.field}[/]: {err.message}")


@settings_app.command("set")
def settings_set(
    section: str,
    value: Annotated[str, typer.Argument(help="The section as JSON")],
    data_dir: DataDir = None,
) -> None:
    """Validate and store a section (nothing is written when validation fails)."""
    config = load_config(data_dir)
    try:
        body = json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter("VALUE must be JSON") from exc

    async def fn(state: Any) -> Any:
        from foredeck.db import transaction
        from foredeck.settings import service as settings_service

        async with transaction(state.sessionmaker) as session:
            return await settings_service.put_section(
                session, section, body, config=config, updated_by="cli"
            )

    out = _run(config, fn)
    console.print(f"stored {section} (checksum {out.checksum[:12]})")


@settings_app.command("import-config")
def settings_import_config(
    overwrite: Annotated[bool, typer.Option(help="Replace sections already stored")] = False,
    data_dir: DataDir = None,
) -> None:
    """Copy sections from the YAML config file and FOREDECK_* variables into the database."""
    config = load_config(data_dir)

    async def fn(state: Any) -> Any:
        from foredeck.db import transaction
        from foredeck.settings.migration import import_config

        async with transaction(state.sessionmaker) as session:
            return await import_config(session, config, overwrite=overwrite)

    report = _run(config, fn)
    console.print(f"sources: {', '.join(report.source) or 'none found'}")
    console.print(f"imported: {', '.join(report.imported) or 'nothing'}")
    for name, why in report.skipped.items():
        console.print(f"[yellow]skipped {name}[/]: {why}")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    app.command("import")(import_cmd)
    app.command("export")(export_cmd)
    app.add_typer(settings_app, name="settings")
