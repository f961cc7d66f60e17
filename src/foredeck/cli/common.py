"""Helpers shared by the CLI commands: consoles, config, local runs, error reporting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck import migrate
from foredeck.config import Config
from foredeck.errors import AppError
from foredeck.kit.runtime import Runtime

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory (FOREDECK_DATA_DIR)")
]
StateOpener = Callable[[Config], AbstractAsyncContextManager[Runtime]]


def load_config(data_dir: Path | None = None, **overrides: Any) -> Config:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Config(**overrides)


@asynccontextmanager
async def local_state(config: Config) -> AsyncIterator[Runtime]:
    """The runtime that services and the job runner use, without a server or its start-ups."""
    from foredeck.db import make_engine
    from foredeck.jobs.settings import JOB_SETTINGS, JobSettings

    runtime = Runtime(config, engine=make_engine(config))
    runtime[JOB_SETTINGS] = JobSettings()
    try:
        yield runtime
    finally:
        await runtime.engine.dispose()


def _run(config: Config, fn: Callable[[Runtime], Awaitable[T]], opener: StateOpener) -> T:
    from foredeck.logging import configure_logging

    # Log lines go to stderr and only warnings: stdout is for the command's output.
    configure_logging(config.effective_log_format, "WARNING")
    migrate.upgrade(config)

    async def main() -> T:
        async with opener(config) as runtime:
            return await fn(runtime)

    return asyncio.run(main())


def run_in_session(config: Config, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate if needed, then run fn in one committed transaction (AppError propagates)."""
    from foredeck.db import transaction

    async def in_transaction(runtime: Runtime) -> T:
        async with transaction(runtime.sessionmaker) as session:
            return await fn(session)

    return _run(config, in_transaction, local_state)


def run_local(
    config: Config, fn: Callable[[Runtime], Awaitable[T]], opener: StateOpener = local_state
) -> T:
    """Migrate if needed, then run fn(runtime) on this machine's database; errors exit 1."""
    with reported():
        return _run(config, fn, opener)


def say_error(text: str) -> None:
    """A red line on stderr, never wrapped (so it can be grepped whole)."""
    err_console.print(f"[red]{text}[/]", highlight=False, soft_wrap=True)


def print_error(head: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
    say_error(f"{head}: {message}")
    for d in details or []:
        say_error(f"  {d.get('field') or '-'}: {d.get('message')}")


def _refused(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def reported(url: str | None = None) -> Iterator[None]:
    """Errors a command meets (local AppError, a server's error envelope, an unreachable
    server) become one clear red message on stderr and exit code 1; Ctrl-C exits 130."""
    try:
        yield
    except AppError as exc:
        print_error(exc.code, exc.message, exc.details)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        import httpx

        from foredeck.client import ForedeckError

        where = url or "the server"
        if isinstance(exc, ForedeckError):
            print_error(f"{exc.status} {exc.code}", exc.message, exc.details)
        elif isinstance(exc, httpx.ConnectError):
            why = "connection refused (is foredeck running there?)" if _refused(exc) else exc
            say_error(f"cannot connect to {where}: {why}")
        elif isinstance(exc, httpx.TimeoutException):
            say_error(f"{where} did not answer in time ({exc!r})")
        elif isinstance(exc, httpx.HTTPError):
            say_error(f"request to {where} failed: {exc}")
        else:
            raise
        raise typer.Exit(1) from exc
