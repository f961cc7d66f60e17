"""CLI commands of the operations domain: `foredeck import` and `foredeck export`.

Without --url the job runs in this process on the local data dir (or on the embedded server
that claims it first); with --url (FOREDECK_URL) a server runs it: a local file is uploaded
(multipart), the job is followed through the API, and an export is downloaded from
GET /api/v1/jobs/{id}/download.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from foredeck.cli.common import DataDir, console, err_console, load_config, run_local
from foredeck.cli.follow import RemoteJobs, finish, follow, run_here
from foredeck.cli.remote import Token, Url, download_bar, run_remote
from foredeck.config import Config
from foredeck.kit.runtime import Runtime

if TYPE_CHECKING:
    from foredeck.client import AsyncClient
    from foredeck.jobs.schemas import JobRead


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


def _stage_local_file(config: Config, source: Path) -> str:
    """Put a local file into the managed import dir (a hard link when possible, else a copy)."""
    from foredeck.operations.sources.locations import imports_dir, safe_filename

    relative = f"uploads/{uuid.uuid4().hex}/{safe_filename(source.name)}"
    target = imports_dir(config) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return relative


def _import_local(data_dir: Path | None, params: dict[str, Any], file: Path | None) -> JobRead:
    config = load_config(data_dir)
    if file is not None:
        params.update(source="file", delete_after=True, original_name=file.name)
        params["path"] = _stage_local_file(config, file)

    async def fn(runtime: Runtime) -> JobRead:
        from foredeck.operations import service as operations_service
        from foredeck.operations.imports.run import precheck
        from foredeck.operations.schemas import ImportParams

        parsed = operations_service.parse(ImportParams, params)
        async with runtime.sessionmaker() as session:
            await precheck(session, config, parsed)
        return await run_here(runtime, "import", parsed.model_dump(mode="json"))

    try:
        return run_local(config, fn)
    finally:
        if params.get("delete_after"):
            from foredeck.operations.sources.locations import discard_upload

            discard_upload(config, params["path"])


async def _import_remote(client: AsyncClient, params: dict[str, Any], file: Path | None) -> JobRead:
    if file is None:
        ref = await client.start_import({k: v for k, v in params.items() if v is not None})
    else:
        with console.status(f"uploading {file.name}"):
            ref = await client.start_import(
                file=file,
                mapping=params["mapping"] or None,
                collection=params["collection"],
                mode=params["mode"],
                format=params["format"],
                encoding=params["encoding"],
                delimiter=params["delimiter"],
                max_error_ratio=params["max_error_ratio"],
            )
    return await follow(RemoteJobs(client), ref.job_id)


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
    url: Url = None,
    token: Token = None,
) -> None:
    """Import a file, a URL or a Google Sheet into a collection, with a progress bar.

    With --url a local FILE is uploaded to the server; a URL or a sheet is read there."""
    params: dict[str, Any] = {
        "collection": collection,
        "mode": mode,
        "format": format,
        "encoding": encoding,
        "delimiter": delimiter,
        "mapping": parse_mapping(mapping),
        "max_error_ratio": max_error_ratio,
    }
    file: Path | None = None
    if sheet:
        params.update(source="sheet", sheet=sheet)
    elif source and source.startswith(("http://", "https://")):
        params.update(source="url", url=source)
    elif source:
        file = Path(source)
        if not file.is_file():
            err_console.print(f"[red]no such file: {source}[/]")
            raise typer.Exit(2)
    else:
        err_console.print("[red]give a FILE, a URL or --sheet NAME[/]")
        raise typer.Exit(2)
    if url:
        job = run_remote(url, token, lambda c: _import_remote(c, params, file))
    else:
        job = _import_local(data_dir, params, file)
    result = finish(job)
    table = Table("rows read", "inserted", "updated", "unchanged", "skipped", "duplicates")
    table.add_row(
        *(
            str(result.get(k, 0))
            for k in ("rows_read", "inserted", "updated", "unchanged", "skipped", "duplicates")
        )
    )
    console.print(table)
    for err in result.get("errors", [])[:10]:
        err_console.print(f"[yellow]row {err['row']}[/]: {err['reason']}", highlight=False)


def export_cmd(
    format: Annotated[str, typer.Option("--format", help="csv, jsonl, parquet or sheet")] = "jsonl",
    out: Annotated[Path | None, typer.Option("--out", help="Where to write the file")] = None,
    collection: Annotated[str | None, typer.Option(help="Only this collection")] = None,
    memory_type: Annotated[str | None, typer.Option(help="Only this type")] = None,
    q: Annotated[str | None, typer.Option(help="Only records containing this text")] = None,
    sheet: Annotated[str | None, typer.Option(help="format=sheet: a configured sheet")] = None,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Export records (a collection or a filter) to a file or a Google Sheet.

    With --url the server writes the file and it is downloaded to --out."""
    params = {
        "format": format,
        "collection": collection,
        "memory_type": memory_type,
        "q": q,
        "sheet": sheet,
    }
    if url:

        async def remote(client: AsyncClient) -> tuple[JobRead, Path | None]:
            ref = await client.start_export({k: v for k, v in params.items() if v is not None})
            job = await follow(RemoteJobs(client), ref.job_id)
            result = job.result or {}
            if job.status != "succeeded" or not result.get("file"):
                return job, None
            target = out or Path(result["filename"])
            with download_bar(target.name) as progress:
                await client.download_dataset(job.id, to=target, progress=progress)
            return job, target

        job, written = run_remote(url, token, remote)
    else:
        job, written = _export_local(data_dir, params), None
    result = finish(job)
    if not result.get("file"):
        console.print(f"wrote {result.get('rows', 0)} records to the sheet {result.get('range')}")
        return
    target = out or Path(result["filename"])
    if written is None:
        shutil.copyfile(result["file"], target)
    console.print(f"wrote {result['rows']} records ({target.stat().st_size:,} bytes) to {target}")


def _export_local(data_dir: Path | None, params: dict[str, Any]) -> JobRead:
    config = load_config(data_dir)

    async def fn(runtime: Runtime) -> JobRead:
        from foredeck.operations import service as operations_service
        from foredeck.operations.schemas import ExportParams

        parsed = operations_service.parse(ExportParams, params)
        async with runtime.sessionmaker() as session:
            if parsed.format == "sheet":
                from foredeck.operations.sources.locations import sheet_target, sheets_client

                client, sheets = await sheets_client(session, config)
                await client.aclose()
                sheet_target(sheets, parsed.sheet, parsed.spreadsheet_id, parsed.range)
        return await run_here(runtime, "export", parsed.model_dump(mode="json", exclude_none=True))

    return run_local(config, fn)


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    from foredeck.cli.settings import settings_app

    app.command("import")(import_cmd)
    app.command("export")(export_cmd)
    app.add_typer(settings_app, name="settings")
