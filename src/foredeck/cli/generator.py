"""CLI commands of the generator: `foredeck generate` and `foredeck schema validate`.

Without --url the rows are generated in this process; with --url (FOREDECK_URL) the server
runs a `generate` job (followed with the same progress bar), merges the chunks and the file
is downloaded from GET /api/v1/jobs/{id}/download.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foredeck.cli.common import DataDir, console, err_console, load_config, run_local
from foredeck.cli.follow import RemoteJobs, finish, follow, progress_bar
from foredeck.cli.remote import Token, Url, download_bar, run_remote
from foredeck.kit.runtime import Runtime

if TYPE_CHECKING:
    from foredeck.client import AsyncClient
    from foredeck.generator.schemas import DatasetSchema, OutputFormat

schema_app = typer.Typer(help="Dataset schemas for the generator.", no_args_is_help=True)


def _print_issues(issues: list[Any]) -> None:
    for issue in issues:
        colour = "red" if issue.severity == "error" else "yellow"
        where = f"{issue.field}: " if issue.field else ""
        err_console.print(
            f"[{colour}]{issue.severity}[/] {where}{issue.message} ({issue.code})", highlight=False
        )


def _print_notes(notes: list[Any]) -> None:
    """How the description was read: one line per column, warnings in yellow (stderr)."""
    for note in notes:
        where = f"{note.field}: " if note.field else ""
        phrase = f" [dim](from '{note.phrase}')[/]" if note.phrase else ""
        if note.level == "warning":
            err_console.print(f"[yellow]{where}{note.message}[/]{phrase}", highlight=False)
        else:
            err_console.print(f"[dim]{where}[/]{note.message}{phrase}", highlight=False)


def _load_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        err_console.print(f"[red]Cannot read {path}: {exc}[/]")
        raise typer.Exit(2) from exc
    if not isinstance(data, dict):
        err_console.print(f"[red]{path} does not hold a JSON object[/]")
        raise typer.Exit(2)
    return data


@schema_app.command("validate")
def schema_validate(
    file: Annotated[Path, typer.Argument(help="A dataset schema as JSON")],
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Check a schema file: exit 0 when it can be generated, 1 with the issues otherwise."""
    from foredeck.generator import service as gen_service

    data = _load_json(file)

    async def fn(runtime: Runtime) -> Any:
        async with runtime.sessionmaker() as session:
            return await gen_service.validate_schema(session, data)

    if url:
        result = run_remote(url, token, lambda c: c.validate_schema(data))
    else:
        result = run_local(load_config(data_dir), fn)
    _print_issues(result.issues)
    if not result.valid:
        err_console.print(f"[red]{file} is not valid[/]")
        raise typer.Exit(1)
    assert result.schema_ is not None
    console.print(
        f"[green]valid[/]: {len(result.schema_.fields)} fields, {result.schema_.rows} rows "
        f"in {result.schema_.chunk_count} chunk(s)"
    )


def generate(
    description: Annotated[
        str | None, typer.Argument(help='What to generate, e.g. "1000 users with name, email"')
    ] = None,
    rows: Annotated[int | None, typer.Option(help="Rows (overrides a count in the text)")] = None,
    format: Annotated[
        str, typer.Option("--format", help="json, jsonl, csv or parquet")
    ] = "parquet",
    out: Annotated[Path | None, typer.Option("--out", help="Output file")] = None,
    schema_file: Annotated[
        Path | None, typer.Option("--schema", help="Use this schema file instead of a description")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Same seed, same rows")] = None,
    chunk_size: Annotated[int | None, typer.Option(help="Rows per chunk")] = None,
    extractor: Annotated[str, typer.Option(help="auto, rules or llm")] = "auto",
    save_schema: Annotated[
        Path | None, typer.Option(help="Also write the schema used to this file")
    ] = None,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Describe a dataset in words (or give a schema) and write it to a file, chunk by chunk."""
    from foredeck.generator import service as gen_service
    from foredeck.generator.schemas import DatasetSchema, OutputFormat
    from foredeck.generator.validate import Limits, check

    if (description is None) == (schema_file is None):
        err_console.print("[red]Give a description or --schema FILE (one of them)[/]")
        raise typer.Exit(2)
    try:
        fmt = OutputFormat(format)
    except ValueError as exc:
        err_console.print("[red]--format must be json, jsonl, csv or parquet[/]")
        raise typer.Exit(2) from exc
    if extractor not in ("auto", "rules", "llm"):
        err_console.print("[red]--extractor must be auto, rules or llm[/]")
        raise typer.Exit(2)
    given: dict[str, Any] | None = None
    if schema_file is not None:
        given = _load_json(schema_file)
        given["format"] = fmt.value
        for key, value in (("rows", rows), ("seed", seed)):
            if value is not None:
                given[key] = value
    request = {
        "description": description or "",
        "extractor": extractor,
        "rows": rows,
        "format": fmt.value,
        "seed": seed,
    }

    async def prepare_remote(client: AsyncClient) -> tuple[Any, list[Any], str]:
        if given is not None:
            return await client.validate_schema(given), [], "file"
        found = await client.extract_schema({k: v for k, v in request.items() if v is not None})
        return found.validation, found.notes, found.extractor

    async def prepare_local(runtime: Runtime) -> tuple[Any, list[Any], str]:
        from foredeck.db import transaction
        from foredeck.generator.schemas import ExtractRequest

        async with transaction(runtime.sessionmaker) as session:
            if given is not None:
                return await gen_service.validate_schema(session, given), [], "file"
            extract = ExtractRequest.model_validate(request)
            found = await gen_service.extract_schema(session, runtime.config, extract)
            return found.validation, found.notes, found.extractor

    if url:
        report, notes, used = run_remote(url, token, prepare_remote)
    else:
        report, notes, used = run_local(load_config(data_dir), prepare_local)
    _print_notes(notes)
    _print_issues(report.issues)
    if not report.valid or report.schema_ is None:
        raise typer.Exit(1)
    schema: DatasetSchema = report.schema_
    if chunk_size is not None:
        schema = DatasetSchema.model_validate({**schema.model_dump(), "chunk_size": chunk_size})
        errors = [i for i in check(schema, Limits()) if i.severity == "error"]
        if errors:
            _print_issues(errors)
            raise typer.Exit(1)
    if save_schema is not None:
        save_schema.write_text(schema.model_dump_json(indent=2, exclude_none=True))
    target = out or Path(f"{schema.name}.{fmt.value}")
    console.print(
        f"[bold]{schema.name}[/]: {len(schema.fields)} fields ({used}), {schema.rows} rows, "
        f"seed {schema.seed} -> {target}"
    )
    if url:
        run_remote(url, token, lambda c: _generate_remote(c, schema, fmt, target))
        with target.open("rb") as fh:
            checksum = hashlib.file_digest(fh, "sha256").hexdigest()
        total, size = schema.rows, target.stat().st_size
    else:
        total, size, checksum = _generate_local(load_config(data_dir), schema, fmt, target)
    console.print(f"wrote {total} rows, {size:,} bytes, sha256 {checksum[:16]}… to {target}")


async def _generate_remote(
    client: AsyncClient, schema: DatasetSchema, fmt: OutputFormat, target: Path
) -> None:
    """Run a generate job on the server, merge its chunks there and download the file."""
    created = await client.create_dataset({"schema": schema.model_dump(mode="json")})
    finish(await follow(RemoteJobs(client), created.job_id))
    info = await client.prepare_download(created.job_id, {"format": fmt.value})
    if info.status == "merging" and info.merge_job_id:
        finish(await follow(RemoteJobs(client), info.merge_job_id))
    elif info.status == "failed":
        err_console.print(f"[red]merging failed: {info.error}[/]", highlight=False)
        raise typer.Exit(1)
    with download_bar(target.name) as progress:
        await client.download_dataset(
            created.job_id, format=fmt.value, to=target, progress=progress
        )


def _generate_local(
    config: Any, schema: DatasetSchema, fmt: OutputFormat, target: Path
) -> tuple[int, int, str]:
    from foredeck.generator import storage, textpools

    with tempfile.TemporaryDirectory(prefix="foredeck-gen-") as tmp, progress_bar() as progress:
        folder = Path(tmp)
        pools: dict[str, list[str]] = {}
        if textpools.wanted(schema):
            progress.console.print("asking the LLM for free-text values ...")

            async def ask(runtime: Runtime) -> dict[str, list[str]]:
                from foredeck.db import transaction

                async with transaction(runtime.sessionmaker) as session:
                    return await textpools.ensure(session, config, schema, folder)

            pools = run_local(config, ask)
        task = progress.add_task("generating", total=schema.rows, note="")
        for index in range(schema.chunk_count):
            rows_done, _, _ = storage.write_chunk(schema, index, folder, None, pools or None)
            progress.advance(task, rows_done)
        merge_task = progress.add_task(f"writing {fmt.value}", total=schema.rows, note="")
        paths = [folder / storage.chunk_name(i) for i in range(schema.chunk_count)]
        return storage.merge(paths, fmt, target, lambda n: progress.update(merge_task, completed=n))


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    app.command("generate")(generate)
    app.add_typer(schema_app, name="schema")
