"""`foredeck mcp`: the MCP tools over stdio, for desktop and agent MCP clients."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""

    @app.command("mcp")
    def mcp_command(
        url: Annotated[
            str | None,
            typer.Option(
                "--url",
                envvar="FOREDECK_URL",
                help="A foredeck server to call (FOREDECK_URL); without it, this process "
                "opens the local data directory itself",
            ),
        ] = None,
        token: Annotated[
            str | None,
            typer.Option("--token", envvar="FOREDECK_TOKEN", help="API key or token"),
        ] = None,
        user: Annotated[
            str | None,
            typer.Option(help="Act as this local user (no --url): a token is made for it"),
        ] = None,
        data_dir: Annotated[
            Path | None, typer.Option("--data-dir", help="Data directory (FOREDECK_DATA_DIR)")
        ] = None,
    ) -> None:
        """Serve MCP over stdio: every API endpoint as a tool, with the caller's role."""
        from foredeck.cli.common import err_console, load_config
        from foredeck.mcp.stdio import serve_stdio

        if not token and not user:
            err_console.print("[red]foredeck mcp needs --token / FOREDECK_TOKEN or --user[/]")
            raise typer.Exit(2)
        if user and url:
            err_console.print("[red]--user works on the local data directory; drop --url[/]")
            raise typer.Exit(2)
        config = load_config(data_dir)
        asyncio.run(serve_stdio(config, url=url, token=token, user=user))
