"""Helpers shared by CLI commands that work on the local database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck import migrate
from foredeck.config import Config
from foredeck.db import make_engine, make_sessionmaker, transaction

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)


def load_config(data_dir: Path | None = None, **overrides: Any) -> Config:
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return Config(**overrides)


def run_in_session(config: Config, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Migrate if needed, then run fn in one committed transaction."""
    migrate.upgrade(config)

    async def _run() -> T:
        engine = make_engine(config)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                return await fn(session)
        finally:
            await engine.dispose()

    return asyncio.run(_run())
