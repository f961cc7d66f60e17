"""Talking to a foredeck server from the CLI: the --url / --token options and the client.

A server-facing command takes `url: Url = None, token: Token = None`; with a URL (or
FOREDECK_URL) it calls that server through foredeck.client, without one it works on the
local data dir as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from foredeck.cli.common import reported

if TYPE_CHECKING:
    from foredeck.client import AsyncClient, Client, Progress

T = TypeVar("T")
REQUEST_TIMEOUT = 300.0
Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="FOREDECK_URL",
        help="Call this foredeck server instead of the local data dir (FOREDECK_URL)",
    ),
]
Token = Annotated[
    str | None,
    typer.Option("--token", envvar="FOREDECK_TOKEN", help="API key or token (FOREDECK_TOKEN)"),
]


def make_client(url: str | None, token: str | None) -> Client:
    """A synchronous foredeck.client.Client for --url / --token."""
    from foredeck.client import Client

    return Client(url, token)


def run_client(fn: Callable[[Client], T], url: str | None, token: str | None) -> T:
    """Call fn(client) with the synchronous client; server errors exit 1 with a message."""
    with make_client(url, token) as client, reported(client.url):
        return fn(client)


def run_remote(url: str, token: str | None, fn: Callable[[AsyncClient], Awaitable[T]]) -> T:
    """Run fn(client) with the async client (jobs are followed with the same async helper
    as in local mode); server errors and an unreachable server exit 1 with a message."""
    from foredeck.client import AsyncClient

    async def main() -> T:
        # Restoring a large snapshot or merging a dataset can keep a response busy past
        # the client's default 60 s.
        async with AsyncClient(url, token, timeout=REQUEST_TIMEOUT) as client:
            return await fn(client)

    with reported(url):
        return asyncio.run(main())


@contextmanager
def download_bar(note: str) -> Iterator[Progress]:
    """A progress bar for a file the client streams to disk (its `progress=` callback)."""
    from foredeck.cli.follow import progress_bar

    with progress_bar() as bar:
        task = bar.add_task("downloading", total=None, note=note)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total, note=f"{note} {done / 1e6:,.1f} MB")

        yield update
