"""`foredeck locks list|release`: the job engine's advisory locks, on the local database or
(with --url / FOREDECK_URL) on a server."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from foredeck.cli.common import DataDir, console, load_config, run_local
from foredeck.cli.remote import Token, Url, run_remote
from foredeck.kit.runtime import Runtime

locks_app = typer.Typer(
    help="Advisory locks of imports, exports, rebuilds and restores.", no_args_is_help=True
)


def _local(data_dir: Any, release: str | None = None) -> list[Any]:
    async def fn(runtime: Runtime) -> list[Any]:
        from foredeck.db import transaction
        from foredeck.jobs import locks as locks_service

        async with transaction(runtime.sessionmaker) as session:
            if release is not None:
                return [
                    locks_service.lock_read(await locks_service.force_release(session, release))
                ]
            return [
                locks_service.lock_read(lock) for lock in await locks_service.list_locks(session)
            ]

    return run_local(load_config(data_dir), fn)


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else ""


@locks_app.command("list")
def locks_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Every lock with its holder, since when, lease and fencing token."""
    rows = run_remote(url, token, lambda c: c.list_locks()) if url else _local(data_dir)
    if as_json:
        print(json.dumps([row.model_dump(mode="json") for row in rows], indent=2))
        return
    table = Table("name", "state", "holder", "since", "lease until", "fence")
    for row in rows:
        holder = f"job {row.holder_job_id}" if row.holder_job_id else row.holder or ""
        lease = _when(row.expires_at) or ("until released" if row.held else "")
        table.add_row(
            row.name,
            "held" if row.held else "free",
            holder if row.held else "",
            _when(row.acquired_at) if row.held else "",
            lease,
            str(row.fence),
        )
    console.print(table)


@locks_app.command("release")
def locks_release(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation")] = False,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Free a stuck lock (admin on a server): its old holder can no longer renew it."""
    if not yes:
        typer.confirm(
            f"Release lock {name}? Its holder can no longer renew or release it, and another "
            "operation may take it at once.",
            abort=True,
        )
    if url:
        row = run_remote(url, token, lambda c: c.free_lock(name))
    else:
        row = _local(data_dir, release=name)[0]
    console.print(f"released {row.name} (fence {row.fence})")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""
    app.add_typer(locks_app, name="locks")
