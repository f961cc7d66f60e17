"""A large SQLite merge into a small table rebuilds the content-hash index from the model's
definition, inside its transaction, and leaves an index of another shape alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from foredeck import migrate
from foredeck.config import Config
from foredeck.db import make_engine
from foredeck.kit.runtime import Runtime
from foredeck.operations.imports import bulkindex
from foredeck.operations.imports.merge import BULK_TRIGGER_ROWS
from foredeck.operations.imports.run import run_import
from foredeck.operations.schemas import ImportParams
from tests.operations.test_fts_trigger import Quiet
from tests.operations.test_large import write_csv

ROWS = BULK_TRIGGER_ROWS + 100
PLAN = "EXPLAIN QUERY PLAN SELECT id FROM memories WHERE content_hash = 'x'"


@pytest.fixture
def migrated(tmp_path: Path) -> Config:
    config = Config(data_dir=tmp_path / "data")
    migrate.upgrade(config)
    write_csv(config.path("imports") / "rows.csv", ROWS)
    return config


@pytest.fixture
async def state(migrated: Config) -> AsyncIterator[Runtime]:
    config = migrated
    engine = make_engine(config)
    yield Runtime(config, engine=engine)
    await engine.dispose()


async def _import(state: Runtime, collection: str, tmp_path: Path) -> None:
    params = ImportParams(path="rows.csv", collection=collection)
    result = await run_import(state, params, Quiet(), owner_id=None, work_dir=tmp_path / "w")
    assert result["inserted"] == ROWS


async def test_the_index_is_rebuilt_as_the_migrations_built_it(
    state: Runtime, tmp_path: Path
) -> None:
    async with state.engine.connect() as conn:
        built = await bulkindex.installed(conn)
        assert built is not None
        assert bulkindex._normalized(built) == bulkindex._normalized(bulkindex.hash_index_ddl(conn))
    await _import(state, "first", tmp_path)
    async with state.engine.connect() as conn:
        assert await bulkindex.installed(conn) == bulkindex.hash_index_ddl(conn)
        plan = " ".join(str(r[-1]) for r in await conn.exec_driver_sql(PLAN))
        assert bulkindex.HASH_INDEX in plan


async def test_an_index_of_another_shape_is_left_alone(state: Runtime, tmp_path: Path) -> None:
    other = f"CREATE INDEX {bulkindex.HASH_INDEX} ON memories (content_hash, collection)"
    async with state.engine.begin() as conn:
        await conn.exec_driver_sql(f"DROP INDEX {bulkindex.HASH_INDEX}")
        await conn.exec_driver_sql(other)
    await _import(state, "other", tmp_path)
    async with state.engine.connect() as conn:
        assert await bulkindex.installed(conn) == other
