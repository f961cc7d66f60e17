"""A large generated CSV: the readers hold one batch at a time, and a bulk import keeps the
full-text index (maintained by triggers on SQLite) complete."""

from __future__ import annotations

import csv
import json
import tracemalloc
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from foredeck.kit.runtime import runtime_of
from foredeck.operations.readers.formats import open_reader
from tests.conftest import unique
from tests.operations.helpers import import_path, run_export, run_import


def write_csv(path: Path, rows: int) -> int:
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["external_id", "content", "tag"])
        for i in range(rows):
            out.writerow([f"id-{i}", f"row {i} " + "lorem ipsum dolor sit amet " * 3, i % 7])
    return path.stat().st_size


def test_reader_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    path = tmp_path / "large.csv"
    size = write_csv(path, 300_000)
    assert size > 30_000_000
    reader = open_reader(path)
    tracemalloc.start()
    try:
        rows = 0
        for batch in reader.batches(5_000):
            assert len(batch.rows) <= 5_000
            rows += len(batch.rows)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        reader.close()
    assert rows == 300_000
    # One batch of 5,000 rows is a few MB; the whole file would be over 30 MB.
    assert peak < size / 3, peak


async def test_bulk_import_keeps_the_text_index(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    coll = unique("big")
    path = import_path(app, f"{coll}.csv")
    write_csv(path, 12_000)
    job = await run_import(
        client, operator, path=path.name, collection=coll, mapping={"metadata": ["tag"]}
    )
    assert job["result"]["inserted"] == 12_000
    assert job["progress"]["percent"] == 100.0
    _, body = await run_export(client, operator, format="jsonl", collection=coll)
    lines = body.decode().splitlines()
    assert len(lines) == 12_000 and json.loads(lines[-1])["metadata"]["tag"] == "1"
    async with runtime_of(app).engine.connect() as conn:
        count = await conn.scalar(
            text("SELECT count(*) FROM memories WHERE collection = :c"), {"c": coll}
        )
        assert count == 12_000
        if conn.dialect.name == "sqlite":
            names = {r[0] for r in await conn.execute(text("SELECT name FROM sqlite_master"))}
            if "memories_fts" not in names:
                return
            # The copy trigger was set aside for the bulk insert and must be back.
            assert "memories_fts_ai" in names
            fts = await conn.scalar(
                text(
                    "SELECT count(*) FROM memories_fts f JOIN memories m ON m.id = f.rowid "
                    "WHERE memories_fts MATCH 'lorem' AND m.collection = :c"
                ),
                {"c": coll},
            )
            assert fts == 12_000
