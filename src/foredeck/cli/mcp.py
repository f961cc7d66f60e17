"""`foredeck mcp`: the MCP tools over stdio, for desktop and agent MCP clients."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from foredeck.cli.common import DataDir
from foredeck.cli.remote import Token, Url


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the foredeck command."""

    @app.command("mcp")
    def mcp_command(
        url: Url = None,
        token: Token = None,
        user: Annotated[
            str | None,
            typer.Option(help="Act as this local user (no --url): a token is made for it"),
        ] = None,
        data_dir: DataDir = None,
    ) -> None:
        """Serve MCP over stdio: every API endpoint as a tool, with the caller's role."""
        from foredeck.app import create_app
        from foredeck.cli.common import err_console, load_config
        from foredeck.mcp.stdio import serve_stdio

        if not token and not user:
            err_console.print("[red]foredeck mcp needs --token / FOREDECK_TOKEN or --user[/]")
            raise typer.Exit(2)
        if user and url:
            err_console.print("[red]--user works on the local data directory; drop --url[/]")
            raise typer.Exit(2)
        config = load_config(data_dir)
        asyncio.run(serve_stdio(config, create_app, url=url, token=token, user=user))
