"""Alembic environment: async engine, URL from foredeck's Config unless one is given."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from foredeck.config import Config
from foredeck.db import make_engine
from foredeck.models import Base

target_metadata = Base.metadata


def _render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    # Keep the shared column types importable from migrations instead of inlining variants.
    from sqlalchemy import JSON

    from foredeck.models.base import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        autogen_context.imports.add("import foredeck.models.base")
        return "foredeck.models.base.UTCDateTime()"
    if type_ == "type" and isinstance(obj, JSON):
        autogen_context.imports.add("import foredeck.models.base")
        return "foredeck.models.base.JSONType"
    return False


MIGRATION_LOCK_ID = 7_240_301


def _include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # Text search structures are raw SQL in 0003_index, 0008, 0011 and 0012 (FTS5 tables, GIN
    # indexes, PostgreSQL's stored keyword document).
    return not (
        reflected
        and compare_to is None
        and (name or "").startswith(
            (
                "memories_fts",
                "ix_memories_content_fts",
                "ix_memories_content_words",
                "content_words",
                "jobs_fts",
                "ix_jobs_text_trgm",
            )
        )
    )


def _configure(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Two replicas starting together: the second waits here, then finds nothing to do.
        connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_ID})")
        connection.commit()
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=_render_item,
        include_object=_include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str | None) -> None:
    config = Config(database_url=url) if url else Config()
    engine = make_engine(config)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or None
    asyncio.run(_run_async(url))


run()
