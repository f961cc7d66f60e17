"""The SQLite bulk import sets the full-text insert trigger aside using the index domain's
definition of it, and leaves any other trigger alone (on a database of its own, built by the
migrations)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from foredeck import migrate
from foredeck.config import Config
from foredeck.db import make_engine
from foredeck.index import fts
from foredeck.kit.runtime import Runtime
from foredeck.operations.imports.merge import BULK_TRIGGER_ROWS
from foredeck.operations.imports.run import run_import
from foredeck.operations.schemas import ImportParams
from tests.operations.test_large import write_csv

ROWS = BULK_TRIGGER_ROWS + 500


class Quiet:
    async def progress(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def check(self) -> None:
        return None


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("fts-db")
    migrate.upgrade(Config(data_dir=data_dir))
    write_csv(Config(data_dir=data_dir).path("imports") / "rows.csv", ROWS)
    return data_dir


@pytest.fixture
async def state(migrated: Path) -> AsyncIterator[Runtime]:
    config = Config(data_dir=migrated)
    engine = make_engine(config)
    yield Runtime(config, engine=engine)
    await engine.dispose()


async def _trigger_sql(state: Runtime) -> str | None:
    async with state.engine.connect() as conn:
        return await fts.installed_insert_trigger(conn)


async def _import(state: Runtime, collection: str, tmp_path: Path) -> int:
    params = ImportParams(path="rows.csv", collection=collection, mapping={"metadata": ["tag"]})
    result = await run_import(state, params, Quiet(), owner_id=None, work_dir=tmp_path)
    async with state.engine.connect() as conn:
        indexed = await conn.scalar(
            text(
                "SELECT count(*) FROM memories_fts f JOIN memories m ON m.id = f.rowid "
                "WHERE memories_fts MATCH 'lorem' AND m.collection = :c"
            ),
            {"c": collection},
        )
    assert result["inserted"] == ROWS
    return int(indexed or 0)


async def test_the_definition_is_the_one_the_migrations_build(
    state: Runtime, tmp_path: Path
) -> None:
    built = await _trigger_sql(state)
    assert built is not None
    assert " ".join(built.split()) == " ".join(fts.insert_trigger_ddl().split())
    assert await _import(state, "same", tmp_path) == ROWS
    # Set aside for the merge and put back as it was.
    assert await _trigger_sql(state) == fts.insert_trigger_ddl()


async def test_a_trigger_of_another_shape_is_left_alone(state: Runtime, tmp_path: Path) -> None:
    other = fts.insert_trigger_ddl().replace(
        "AFTER INSERT ON memories BEGIN", "AFTER INSERT ON memories WHEN new.content <> '' BEGIN"
    )
    async with state.engine.begin() as conn:
        await conn.exec_driver_sql(f"DROP TRIGGER {fts.INSERT_TRIGGER}")
        await conn.exec_driver_sql(other)
    try:
        # The trigger does the indexing row by row; the import neither drops nor rewrites it.
        assert await _import(state, "other", tmp_path) == ROWS
        assert await _trigger_sql(state) == other
    finally:
        async with state.engine.begin() as conn:
            await conn.exec_driver_sql(f"DROP TRIGGER {fts.INSERT_TRIGGER}")
            await conn.exec_driver_sql(fts.insert_trigger_ddl())
