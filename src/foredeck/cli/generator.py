"""CLI commands of the generator: `foredeck generate` and `foredeck schema validate`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from foredeck.cli.common import console, err_console, load_config, run_in_session
from foredeck.errors import AppError

schema_app = typer.Typer(help="Dataset schemas for the generator.", no_args_is_help=True)

DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (FOREDECK_DATA_DIR)")
]


def _print_issues(issues: list[Any]) -> None:
    for issue in issues:
        colour = "red" if issue.severity == "error" else "yellow"
        where = f"{issue.field}: " if issue.field else ""
        err_console.print(f"[{colour}]{issue.severity}[/] {where}{issue.message} ({issue.code})")


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
) -> None:
    """Check a schema file: exit 0 when it can be generated, 1 with the issues otherwise."""
    from foredeck.generator import service as gen_service

    data = _load_json(file)

    async def _validate(session):  # type: ignore[no-untyped-def]
        return await gen_service.validate_schema(session, data)

    result = run_in_session(load_config(data_dir), _validate)
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
) -> None:
    """Describe a dataset in words (or give a schema) and write it to a file, chunk by chunk."""
    from foredeck.generator import service as gen_service
    from foredeck.generator import storage, textpools
    from foredeck.generator.schemas import DatasetSchema, ExtractRequest, OutputFormat
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
    config = load_config(data_dir)

    async def _prepare(session):  # type: ignore[no-untyped-def]
        if schema_file is not None:
            data = _load_json(schema_file)
            data["format"] = fmt.value
            for key, value in (("rows", rows), ("seed", seed)):
                if value is not None:
                    data[key] = value
            return await gen_service.validate_schema(session, data), [], "file"
        request = ExtractRequest(
            description=description or "",
            extractor=extractor,  # type: ignore[arg-type]
            rows=rows,
            format=fmt,
            seed=seed,
        )
        result = await gen_service.extract_schema(session, config, request)
        return result.validation, result.uninterpreted, result.extractor

    try:
        report, uninterpreted, used = run_in_session(config, _prepare)
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/]")
        for detail in exc.details:
            err_console.print(f"  {detail.get('field') or ''}: {detail.get('message')}")
        raise typer.Exit(1) from exc
    for part in uninterpreted:
        err_console.print(f"[yellow]not understood:[/] {part}")
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
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        tempfile.TemporaryDirectory(prefix="foredeck-gen-") as tmp,
        Progress(*columns, console=console) as progress,
    ):
        folder = Path(tmp)
        pools: dict[str, list[str]] = {}
        if textpools.wanted(schema):
            progress.console.print("asking the LLM for free-text values ...")

            async def _pools(session):  # type: ignore[no-untyped-def]
                return await textpools.ensure(session, config, schema, folder)

            try:
                pools = run_in_session(config, _pools)
            except AppError as exc:
                err_console.print(f"[red]{exc.message}[/]")
                raise typer.Exit(1) from exc
        task = progress.add_task("generating", total=schema.rows)
        for index in range(schema.chunk_count):
            rows_done, _, _ = storage.write_chunk(schema, index, folder, None, pools or None)
            progress.advance(task, rows_done)
        merge_task = progress.add_task(f"writing {fmt.value}", total=schema.rows)
        paths = [folder / storage.chunk_name(i) for i in range(schema.chunk_count)]
        total, size, checksum = storage.merge(
            paths, fmt, target, lambda n: progress.update(merge_task, completed=n)
        )
    console.print(f"wrote {total} rows, {size:,} bytes, sha256 {checksum[:16]}… to {target}")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    app.command("generate")(generate)
    app.add_typer(schema_app, name="schema")
