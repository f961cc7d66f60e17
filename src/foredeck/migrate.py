"""Apply or inspect Alembic migrations shipped inside the package."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from foredeck.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(config: Config) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", config.resolved_database_url.replace("%", "%%"))
    return cfg


@contextmanager
def _file_lock(config: Config) -> Iterator[None]:
    """SQLite has no advisory locks: replicas sharing a data dir serialise on a lock file."""
    if not config.is_sqlite:
        yield
        return
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with open(config.data_dir / ".migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(config: Config, revision: str = "head") -> None:
    with _file_lock(config):
        command.upgrade(alembic_config(config), revision)


def downgrade(config: Config, revision: str) -> None:
    with _file_lock(config):
        command.downgrade(alembic_config(config), revision)


def current(config: Config) -> tuple[str | None, str | None]:
    """(applied revision, head revision)."""
    import asyncio

    from foredeck.db import make_engine

    head = ScriptDirectory.from_config(alembic_config(config)).get_current_head()

    async def _read() -> str | None:
        engine = make_engine(config)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda c: MigrationContext.configure(c).get_current_revision()
                )
        finally:
            await engine.dispose()

    return asyncio.run(_read()), head
