"""Import rows/s into SQLite: foredeck's import engine (CSV file → committed records, embedding
deferred) against raw sqlite3 `executemany` of the same rows into the same table, one transaction.

Both targets are fresh databases built by foredeck's migrations, so both write into the real
`memories` table with its indexes. The reference gets the rows already parsed and hashed; a
second reference also parses the CSV, for context. Targets: >= 0.5x, >= 100k rows/s.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import json
import shutil
import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class _Quiet:
    async def progress(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def check(self) -> None:
        return None


def make_csv(path: Path, rows: int) -> None:
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["external_id", "content", "memory_type", "source"])
        for i in range(rows):
            out.writerow(
                [
                    f"row-{i}",
                    f"Record number {i} about topic {i % 97} with some words",
                    "note",
                    f"s{i % 13}",
                ]
            )


def _drop_triggers(db: Path) -> None:
    """For --without-text-index: both sides then write only the table and its indexes."""
    conn = sqlite3.connect(db)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.commit()
    conn.close()


async def _foredeck(
    data_dir: Path, csv_path: Path, plain: bool = False
) -> tuple[float, dict[str, Any]]:
    from foredeck import migrate
    from foredeck.config import Config
    from foredeck.db import make_engine
    from foredeck.kit.runtime import Runtime
    from foredeck.operations.imports.run import run_import
    from foredeck.operations.schemas import ImportParams

    config = Config(data_dir=data_dir)
    await asyncio.to_thread(migrate.upgrade, config)
    if plain:
        _drop_triggers(data_dir / "foredeck.db")
    engine = make_engine(config)
    state = Runtime(config, engine=engine)
    target = config.path("imports") / csv_path.name
    await asyncio.to_thread(shutil.copyfile, csv_path, target)
    params = ImportParams(path=csv_path.name, collection="bench", mapping={"metadata": ["source"]})
    try:
        start = time.perf_counter()
        result = await run_import(state, params, _Quiet(), owner_id=None, work_dir=data_dir / "w")
        seconds = time.perf_counter() - start
    finally:
        await engine.dispose()
    return seconds, result


def _reference(data_dir: Path, csv_path: Path, parse_in_timing: bool, plain: bool = False) -> float:
    from foredeck import migrate
    from foredeck.config import Config
    from foredeck.operations.imports.merge import SQLITE_CACHE_KIB

    config = Config(data_dir=data_dir)
    migrate.upgrade(config)
    if plain:
        _drop_triggers(data_dir / "foredeck.db")

    def rows() -> list[tuple[Any, ...]]:
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        out = []
        with open(csv_path, newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for ext, content, mtype, source in reader:
                out.append(
                    (
                        content,
                        mtype,
                        "bench",
                        json.dumps({"source": source}),
                        ext,
                        hashlib.sha256(content.encode()).hexdigest(),
                        "pending",
                        0,
                        now,
                        now,
                    )
                )
        return out

    conn = sqlite3.connect(data_dir / "foredeck.db")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    # The same page cache foredeck's import connection uses, so the comparison is like for like.
    conn.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    start = time.perf_counter()
    data = rows()
    if not parse_in_timing:
        start = time.perf_counter()
    with conn:
        conn.executemany(
            "INSERT INTO memories (content, memory_type, collection, metadata, external_id, "
            "content_hash, embedding_state, embedding_attempts, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            data,
        )
    seconds = time.perf_counter() - start
    conn.close()
    return seconds


def _warm_workers() -> None:
    """Two idle operations workers, as a server has after its first large import (or its
    start-up, for one): the rounds then measure imports, not process starts."""
    from foredeck.operations.offload import pool

    fill = getattr(pool, "fill", None)
    if fill is not None:
        fill(2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 rows")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--without-text-index",
        action="store_true",
        help="drop the full-text triggers in both databases (table and indexes only)",
    )
    args, _ = parser.parse_known_args(argv)
    plain = args.without_text_index
    n = 1_000_000 if args.full else args.rows
    ours, ref, ref_parse = [], [], []
    with tempfile.TemporaryDirectory(prefix="fd-bench-import-") as tmp:
        root = Path(tmp)
        csv_path = root / "rows.csv"
        make_csv(csv_path, n)
        _warm_workers()
        for r in range(args.rounds):
            # Alternate the order so neither side always runs on a warmer machine.
            order = ["ours", "ref", "refp"] if r % 2 == 0 else ["refp", "ref", "ours"]
            for which in order:
                folder = root / f"{which}{r}"
                if which == "ours":
                    seconds, result = asyncio.run(_foredeck(folder, csv_path, plain))
                    assert result["inserted"] == n, result
                    ours.append(seconds)
                elif which == "ref":
                    ref.append(_reference(folder, csv_path, parse_in_timing=False, plain=plain))
                else:
                    ref_parse.append(
                        _reference(folder, csv_path, parse_in_timing=True, plain=plain)
                    )
    o, rf, rp = (statistics.median(x) for x in (ours, ref, ref_parse))
    index = "without" if plain else "with"
    print(f"rows: {n:,}, rounds: {args.rounds} (median), {index} the full-text index triggers")
    print(f"foredeck import (CSV file -> committed rows): {n / o:,.0f} rows/s ({o:.2f} s)")
    print(f"sqlite3 executemany, rows pre-parsed:          {n / rf:,.0f} rows/s ({rf:.2f} s)")
    print(f"sqlite3 executemany incl. CSV parse + hash:    {n / rp:,.0f} rows/s ({rp:.2f} s)")
    print(f"ratio vs executemany: {rf / o:.2f}x   ratio vs parse+executemany: {rp / o:.2f}x")


if __name__ == "__main__":
    main()
