"""The `foredeck` command."""

from __future__ import annotations

from typing import Annotated

import typer

from foredeck import __version__, migrate

# Imported for its effect: commands that enqueue jobs need every kind registered.
from foredeck import kinds as _kinds  # noqa: F401
from foredeck.auth import service as auth_service
from foredeck.auth.schemas import Role
from foredeck.cli import generator as cli_generator
from foredeck.cli import index as cli_index
from foredeck.cli import jobs as cli_jobs
from foredeck.cli import locks as cli_locks
from foredeck.cli import mcp as cli_mcp
from foredeck.cli import operations as cli_operations
from foredeck.cli import registry as cli_registry
from foredeck.cli import schedules as cli_schedules
from foredeck.cli.common import DataDir, console, err_console, load_config, run_in_session
from foredeck.cli.remote import Token, Url, run_client
from foredeck.errors import AppError

app = typer.Typer(
    # Locals in a crash's traceback may hold secrets (credentials, file contents).
    pretty_exceptions_show_locals=False,
    help="foredeck: operations server for text records with vector search.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Users of this foredeck.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="api-keys")

# The command groups, each adding its commands to the app (see `register` in each).
CLI_MODULES = [
    cli_jobs,
    cli_locks,
    cli_index,
    cli_operations,
    cli_generator,
    cli_registry,
    cli_schedules,
    cli_mcp,
]


@app.command()
def version() -> None:
    """Print the version."""
    console.print(f"foredeck {__version__}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the API, the console and the embedded workers in one process."""
    import uvicorn

    from foredeck.app import create_app
    from foredeck.kit.server import uvicorn_config

    overrides: dict[str, object] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    config = load_config(data_dir, **overrides)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    mode = "embedded (SQLite, in-process workers)" if config.embedded else "scale-out (Redis)"
    # JSON mode prints JSON lines only: uvicorn's and foredeck_started's lines say the same.
    if config.effective_log_format != "json":
        console.print(
            f"[bold]foredeck {__version__}[/] {mode}\n"
            f"  data dir: {config.data_dir.resolve()}\n"
            f"  console:  http://{config.host}:{config.port}/\n"
            f"  API docs: http://{config.host}:{config.port}/docs\n"
            f"  MCP:      http://{config.host}:{config.port}/mcp (or `foredeck mcp` over stdio)"
        )
    served = uvicorn_config(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level=config.log_level.lower(),
        # foredeck writes its own access line; without a config of its own uvicorn's loggers
        # go through foredeck's handler (JSON in JSON mode) instead of uvicorn's formatters.
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=20,
    )
    uvicorn.Server(served).run()


@db_app.command("upgrade")
def db_upgrade(revision: str = "head", data_dir: DataDir = None) -> None:
    """Apply migrations up to REVISION (default: head)."""
    config = load_config(data_dir)
    migrate.upgrade(config, revision)
    current, head = migrate.current(config)
    console.print(f"database at {current} (head {head})")


@db_app.command("current")
def db_current(data_dir: DataDir = None) -> None:
    """Show the applied revision and the newest one."""
    current, head = migrate.current(load_config(data_dir))
    state = "up to date" if current == head else "upgrade needed"
    console.print(f"current: {current or '(empty)'}\nhead:    {head}\n{state}")


@db_app.command("downgrade")
def db_downgrade(revision: str, data_dir: DataDir = None) -> None:
    """Revert migrations down to REVISION (e.g. -1 or base)."""
    config = load_config(data_dir)
    migrate.downgrade(config, revision)
    console.print(f"database at {migrate.current(config)[0] or '(empty)'}")


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="viewer, operator or admin")] = Role.viewer,
    password: Annotated[str | None, typer.Option(help="Password (prompted when left out)")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    external_id: Annotated[str | None, typer.Option(help="Trusted-header identity")] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a user."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        err_console.print("[red]The password must have at least 8 characters[/]")
        raise typer.Exit(2)

    async def _create(session):  # type: ignore[no-untyped-def]
        user = await auth_service.create_user(
            session,
            username=username,
            password=password,
            role=role,
            email=email,
            external_id=external_id,
        )
        return user.id

    try:
        user_id = run_in_session(load_config(data_dir), _create)
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    console.print(f"created user {username} (id {user_id}, role {role.value})")


@users_app.command("set-password")
def users_set_password(
    username: Annotated[
        str | None, typer.Argument(help="Whose password (local data dir only; an admin reset)")
    ] = None,
    data_dir: DataDir = None,
    url: Url = None,
    token: Token = None,
) -> None:
    """Change a password; every console session and bearer token made before is refused.

    With --url it changes your own password on that server (your current one is asked
    for). Without it, it resets USERNAME's password in the local data dir."""
    if url:
        if username:
            err_console.print("[red]With --url you change your own password; leave USERNAME out[/]")
            raise typer.Exit(2)
        current = typer.prompt("Current password", hide_input=True)
    elif not username:
        err_console.print("[red]Name the user whose password to reset (or pass --url)[/]")
        raise typer.Exit(2)
    new = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    if len(new) < 8:
        err_console.print("[red]The password must have at least 8 characters[/]")
        raise typer.Exit(2)
    if url:
        body = {"current_password": current, "new_password": new}
        run_client(lambda client: client.change_password(body), url, token)
        console.print(
            "password changed; your other sessions and tokens are signed out (API keys stay valid)"
        )
        return

    who = username or ""

    async def _reset(session):  # type: ignore[no-untyped-def]
        user = await auth_service.get_by_username(session, who)
        if user is None:
            raise AppError(f"No user named {username}", code="NOT_FOUND")
        await auth_service.update_user(session, user, {"password": new})

    try:
        run_in_session(load_config(data_dir), _reset)
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    console.print(f"password of {username} reset; their sessions and tokens are signed out")


@users_app.command("list")
def users_list(data_dir: DataDir = None) -> None:
    """List users."""
    from rich.table import Table

    async def _list(session):  # type: ignore[no-untyped-def]
        users, _ = await auth_service.list_users(session, offset=0, limit=10_000)
        return [(u.id, u.username, u.role, u.email or "", u.is_active) for u in users]

    table = Table("id", "username", "role", "email", "active")
    for row in run_in_session(load_config(data_dir), _list):
        table.add_row(*(str(v) for v in row))
    console.print(table)


@keys_app.command("create")
def keys_create(
    username: str,
    name: Annotated[str, typer.Option(help="A label for the key")] = "cli",
    data_dir: DataDir = None,
) -> None:
    """Create an API key for USERNAME and print it once."""

    async def _create(session):  # type: ignore[no-untyped-def]
        user = await auth_service.get_by_username(session, username)
        if user is None:
            raise AppError(f"No user named {username}")
        key, secret = await auth_service.create_api_key(session, user_id=user.id, name=name)
        return key.prefix, secret

    try:
        prefix, secret = run_in_session(load_config(data_dir), _create)
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    console.print(f"API key {prefix} for {username} (shown once):")
    print(secret)


@keys_app.command("revoke")
def keys_revoke(prefix: str, data_dir: DataDir = None) -> None:
    """Revoke the API key with this PREFIX."""

    async def _revoke(session):  # type: ignore[no-untyped-def]
        key = await auth_service.get_api_key_by_prefix(session, prefix)
        await auth_service.revoke_api_key(session, key)

    try:
        run_in_session(load_config(data_dir), _revoke)
    except AppError as exc:
        err_console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(1) from exc
    console.print(f"revoked {prefix}")


for _module in CLI_MODULES:
    _module.register(app)
