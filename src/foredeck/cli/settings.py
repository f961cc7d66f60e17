"""`foredeck settings show|set|import-config`: operator settings stored in the database,
on the local data dir or (with --url / FOREDECK_URL) on a server."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from foredeck.cli.common import DataDir, console, load_config, run_local
from foredeck.cli.remote import Token, Url, run_remote

# Imported for their effect: the settings checks these domains register (the model registry,
# the Sheets API), as the app does; settings itself imports neither.
from foredeck.embedding import registry as _embedding_registry  # noqa: F401
from foredeck.kit.runtime import Runtime
from foredeck.operations.sources import sheets as _sheets  # noqa: F401

settings_app = typer.Typer(help="Operator settings stored in the database.", no_args_is_help=True)


@settings_app.command("show")
def settings_show(
    section: Annotated[str | None, typer.Argument(help="One section (default: all)")] = None,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Print settings with whether each section is valid."""
    if url:

        async def remote(client: Any) -> Any:
            if section:
                return {section: await client.get_settings_section(section)}
            return (await client.get_settings()).sections

        found = run_remote(url, token, remote)
    else:
        config = load_config(data_dir)

        async def fn(runtime: Runtime) -> Any:
            from foredeck.settings import service as settings_service

            async with runtime.sessionmaker() as session:
                if section:
                    settings_service.section_model(section)
                    out = await settings_service.section_state(session, section, config=config)
                    return {section: out}
                return (await settings_service.all_sections(session, config=config)).sections

        found = run_local(config, fn)
    for name, out in found.items():
        mark = "[green]valid[/]" if out.valid else "[red]invalid[/]"
        console.print(f"[bold]{name}[/] {mark}{'' if out.configured else ' (defaults)'}")
        console.print_json(json.dumps(out.value))
        for err in out.errors:
            console.print(f"  [red]{err.field}[/]: {err.message}", highlight=False)


@settings_app.command("set")
def settings_set(
    section: str,
    value: Annotated[str, typer.Argument(help="The section as JSON")],
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Validate and store a section (nothing is written when validation fails)."""
    try:
        body = json.loads(value)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter("VALUE must be JSON") from exc
    if url:
        out = run_remote(url, token, lambda c: c.update_settings(section, body))
    else:
        config = load_config(data_dir)

        async def fn(runtime: Runtime) -> Any:
            from foredeck.db import transaction
            from foredeck.settings import service as settings_service

            async with transaction(runtime.sessionmaker) as session:
                return await settings_service.put_section(
                    session, section, body, config=config, updated_by="cli"
                )

        out = run_local(config, fn)
    console.print(f"stored {section} (checksum {(out.checksum or '')[:12]})")


@settings_app.command("import-config")
def settings_import_config(
    overwrite: Annotated[bool, typer.Option(help="Replace sections already stored")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Copy sections from the YAML config file and FOREDECK_* variables into the database
    (with --url: the server's own config file and variables)."""
    if url:
        report = run_remote(url, token, lambda c: c.import_settings_config(overwrite=overwrite))
    else:
        config = load_config(data_dir)

        async def fn(runtime: Runtime) -> Any:
            from foredeck.db import transaction
            from foredeck.settings.migration import import_config

            async with transaction(runtime.sessionmaker) as session:
                return await import_config(session, config, overwrite=overwrite)

        report = run_local(config, fn)
    console.print(f"sources: {', '.join(report.source) or 'none found'}")
    console.print(f"imported: {', '.join(report.imported) or 'nothing'}")
    for name, why in report.skipped.items():
        console.print(f"[yellow]skipped {name}[/]: {why}", highlight=False)
