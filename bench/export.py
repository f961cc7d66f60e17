"""Export to Parquet: foredeck's export engine against a plain pyarrow write of the same rows
(sqlite3 cursor in 50k batches → RecordBatch → ParquetWriter, same columns and compression).

Each side runs in its own process so its peak RSS is its own. Targets: >= 0.5x the plain
write, peak RSS <= 300 MB. Default 200k rows; --full for 1M.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


class _Quiet:
    async def progress(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def check(self) -> None:
        return None


def seed(data_dir: Path, rows: int) -> None:
    from foredeck import migrate
    from foredeck.config import Config

    migrate.upgrade(Config(data_dir=data_dir))
    conn = sqlite3.connect(data_dir / "foredeck.db")
    # A bench database: the full-text trigger only slows the seeding, not the export.
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    now = "2026-11-23 07:00:00.000000"
    batch = []
    with conn:
        for i in range(rows):
            content = f"Record {i} about topic {i % 97}: " + "some words of text " * 4
            batch.append(
                (
                    content,
                    "note",
                    "bench",
                    json.dumps({"n": i, "tag": f"t{i % 13}"}),
                    f"e{i}",
                    hashlib.sha256(content.encode()).hexdigest(),
                    "pending",
                    0,
                    now,
                    now,
                )
            )
            if len(batch) == 50_000:
                conn.executemany(
                    "INSERT INTO memories (content, memory_type, collection, metadata, "
                    "external_id, content_hash, embedding_state, embedding_attempts, created_at, "
                    "updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    batch,
                )
                batch = []
        if batch:
            conn.executemany(
                "INSERT INTO memories (content, memory_type, collection, metadata, external_id, "
                "content_hash, embedding_state, embedding_attempts, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
    conn.close()


def run_foredeck(data_dir: Path, out_dir: Path) -> dict[str, Any]:
    from foredeck.config import Config
    from foredeck.db import make_engine
    from foredeck.kit.runtime import Runtime
    from foredeck.operations.exports.run import run_export
    from foredeck.operations.schemas import ExportParams

    async def go() -> dict[str, Any]:
        config = Config(data_dir=data_dir)
        engine = make_engine(config)
        state = Runtime(config, engine=engine)
        try:
            return await run_export(
                state,
                ExportParams(format="parquet"),
                _Quiet(),
                job_id="bench0000",
                out_dir=out_dir,
            )
        finally:
            await engine.dispose()

    start = time.perf_counter()
    result = asyncio.run(go())
    return {"seconds": time.perf_counter() - start, "rows": result["rows"]}


def run_reference(data_dir: Path, out_dir: Path) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from foredeck.operations.exports.run import SCHEMA

    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(data_dir / "foredeck.db")
    cur = conn.execute(
        "SELECT id, external_id, collection, memory_type, content, metadata, content_hash, "
        "embedding_state, owner_id, created_at, updated_at FROM memories ORDER BY id"
    )
    writer = pq.ParquetWriter(out_dir / "plain.parquet", SCHEMA, compression="zstd")
    ts = pa.timestamp("us", tz="UTC")
    rows = 0
    while True:
        chunk = cur.fetchmany(50_000)
        if not chunk:
            break
        cols = list(zip(*chunk, strict=True))
        arrays = [pa.array(c, type=SCHEMA.field(i).type) for i, c in enumerate(cols[:9])]
        # SQLite keeps datetimes as text; arrow parses them in C.
        arrays += [pa.array(c).cast(pa.timestamp("us")).cast(ts) for c in cols[9:]]
        writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=SCHEMA))
        rows += len(chunk)
    writer.close()
    conn.close()
    return {"seconds": time.perf_counter() - start, "rows": rows}


def _child(which: str, data_dir: str, out_dir: str) -> None:
    fn = run_foredeck if which == "foredeck" else run_reference
    result = fn(Path(data_dir), Path(out_dir))
    result["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _measure(which: str, data_dir: Path, out_dir: Path) -> dict[str, Any]:
    code = f"import bench.export as b; b._child({which!r}, {str(data_dir)!r}, {str(out_dir)!r})"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 rows")
    parser.add_argument("--rounds", type=int, default=3)
    args, _ = parser.parse_known_args(argv)
    n = 1_000_000 if args.full else args.rows
    ours: list[dict[str, Any]] = []
    ref: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="fd-bench-export-") as tmp:
        data_dir = Path(tmp) / "data"
        seed(data_dir, n)
        for r in range(args.rounds):
            for which in ["foredeck", "ref"] if r % 2 == 0 else ["ref", "foredeck"]:
                out = Path(tmp) / f"out-{which}-{r}"
                got = _measure(which, data_dir, out)
                assert got["rows"] == n, got
                (ours if which == "foredeck" else ref).append(got)
    o = statistics.median(x["seconds"] for x in ours)
    p = statistics.median(x["seconds"] for x in ref)
    print(f"rows: {n:,}, rounds: {args.rounds} (median)")
    print(
        f"foredeck export -> Parquet: {n / o:,.0f} rows/s ({o:.2f} s), "
        f"peak RSS {max(x['rss_mb'] for x in ours):.0f} MB"
    )
    print(
        f"plain sqlite3 + pyarrow:    {n / p:,.0f} rows/s ({p:.2f} s), "
        f"peak RSS {max(x['rss_mb'] for x in ref):.0f} MB"
    )
    print(f"ratio: {p / o:.2f}x")


if __name__ == "__main__":
    main()
