"""bench.jobs --list: `GET /api/v1/jobs` and the console's jobs page at 1,000,000 jobs.

Fills a database at the schema this code ships (SQLite and PostgreSQL), then times each filter
through the app in-process (API with `per_page=50`, console page, p50 of interleaved rounds).
The rows are the same in every run (seeded), so a run of an older checkout with this file
(`PYTHONPATH=<old>/src`) gives a same-machine before/after.

Run: .venv/bin/python -m bench.jobs --list [--jobs N] [--rounds 7] [--skip-pg] [--skip-sqlite]
(PostgreSQL: FOREDECK_BENCH_LIST_DATABASE_URL, a database it drops and makes again.)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

PG_URL = os.environ.get(
    "FOREDECK_BENCH_LIST_DATABASE_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/foredeck_bench_list",
)
COLUMNS = (
    "id, kind, queue, priority, status, params, progress_done, progress_total, "
    "progress_message, counters, error, attempts, max_attempts, lock_keys, fence, "
    "created_at, run_after, finished_at, updated_at"
)
KINDS = ("import", "export", "embed", "test", "generate")
ERRORS = (
    "ConnectionError: timeout reading https://files{n}.example.com/batch.csv",
    "ValueError: row {n} column price is not a number",
    "PermissionError: cannot write /data/exports/out-{n}.parquet",
    "KeyError: 'collection' missing in params of job {n}",
)
# One failed job in this many has an error that hardly any other job has.
RARE_EVERY = 10_007
RARE_ERROR = "OSError: disk quota exceeded on volume v{n}"
END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _rows(count: int) -> Iterator[tuple[Any, ...]]:
    """Jobs one second apart: 80 % succeeded, 10 % failed, 9 % cancelled, 1 % queued."""
    rng = random.Random(20261123)
    for i in range(count):
        created = END - timedelta(seconds=count - i)
        roll = i % 100
        status = (
            "failed"
            if roll < 10
            else "cancelled"
            if roll < 19
            else "queued"
            if roll == 19
            else "succeeded"
        )
        kind = KINDS[i % len(KINDS)]
        error = None
        if status == "failed":
            error = (
                RARE_ERROR if i % RARE_EVERY == 0 else ERRORS[(i // 100) % len(ERRORS)]
            ).format(n=i % 997)
        message = f"read {i % 5000} rows" if kind == "import" and status != "queued" else None
        finished = None if status == "queued" else created + timedelta(seconds=1)
        yield (
            f"{rng.getrandbits(128):032x}",
            kind,
            "operations" if i % 3 else "default",
            0,
            status,
            "{}",
            100,
            100,
            message,
            "{}",
            error,
            1,
            1,
            "[]",
            0,
            created,
            created,
            finished,
            created,
        )


def _uuid(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


def fill_sqlite(db: Path, count: int) -> None:
    def iso(v: Any) -> Any:
        # SQLAlchemy's SQLite format, so range filters compare like with like.
        if isinstance(v, datetime):
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        return v

    conn = sqlite3.connect(db)
    marks = ",".join("?" * len(COLUMNS.split(",")))
    rows = ((_uuid(r[0]), *(iso(v) for v in r[1:])) for r in _rows(count))
    conn.executemany(f"INSERT INTO jobs ({COLUMNS}) VALUES ({marks})", rows)
    conn.commit()
    conn.close()


async def fill_pg(url: str, count: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        # COPY is binary: jsonb's binary form is a version byte, then the text.
        await conn.set_type_codec(
            "jsonb",
            encoder=lambda v: b"\x01" + v.encode(),
            decoder=lambda v: v[1:].decode(),
            schema="pg_catalog",
            format="binary",
        )
        await conn.copy_records_to_table(
            "jobs",
            records=[(_uuid(r[0]), *r[1:]) for r in _rows(count)],
            columns=[c.strip() for c in COLUMNS.split(",")],
        )
        await conn.execute("ANALYZE jobs")
    finally:
        await conn.close()


async def _recreate_pg(url: str) -> None:
    import asyncpg

    base, _, name = url.replace("postgresql+asyncpg", "postgresql").rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def cases(count: int) -> dict[str, str]:
    day_end = END - timedelta(days=2)
    some_id = _uuid(next(_rows(count))[0])
    return {
        "no filter": "",
        "status=failed": "status=failed",
        "kind+queue": "kind=import&queue=operations",
        "one day": f"created_after={(day_end - timedelta(days=1)).isoformat()}"
        f"&created_before={day_end.isoformat()}".replace("+", "%2B"),
        "status=queued&kind=embed": "status=queued&kind=embed",
        "q common (timeout)": "q=timeout",
        "q rare (quota)": "q=quota",
        "q id prefix": f"q={some_id[:8]}",
        "q in message": "q=4995%20rows",
        "status=failed&q=price": "status=failed&q=price",
        "failed, page 100": "status=failed&page=100",
    }


async def _client_pair(app: Any) -> tuple[httpx.AsyncClient, dict[str, str]]:
    from bench.console import PASSWORD, _login, _make_admin

    await _make_admin(app, "bench")
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://b")
    await _login(client, "bench")
    async with httpx.AsyncClient(transport=transport, base_url="http://b") as bare:
        resp = await bare.post(
            "/api/v1/auth/token", json={"username": "bench", "password": PASSWORD}
        )
    assert resp.status_code == 200, resp.text
    return client, {"Authorization": f"Bearer {resp.json()['data']['access_token']}"}


async def measure(database_url: str | None, count: int, rounds: int, label: str) -> None:
    from alembic.script import ScriptDirectory

    from foredeck import migrate
    from foredeck.app import create_app
    from foredeck.config import Config

    data = Path(tempfile.mkdtemp(prefix="bench-jobs-list-"))
    try:
        config = Config(
            data_dir=data,
            database_url=database_url,
            rate_limit_enabled=False,
            workers=0,
            log_level="WARNING",
        )
        if database_url:
            await _recreate_pg(database_url)
        heads = ScriptDirectory.from_config(migrate.alembic_config(config)).get_current_head()
        t0 = time.perf_counter()
        if database_url:
            await asyncio.to_thread(migrate.upgrade, config, "0007")
            await fill_pg(database_url, count)
        else:
            await asyncio.to_thread(migrate.upgrade, config, "0007")
            await asyncio.to_thread(fill_sqlite, data / "foredeck.db", count)
        t1 = time.perf_counter()
        await asyncio.to_thread(migrate.upgrade, config)
        t2 = time.perf_counter()
        print(
            f"{label}: {count:,} jobs filled in {t1 - t0:.1f} s; upgrade 0007 -> {heads} "
            f"{t2 - t1:.1f} s",
            flush=True,
        )
        app = create_app(config)
        async with app.router.lifespan_context(app):
            client, headers = await _client_pair(app)
            async with contextlib.aclosing(client):
                for name, qs in cases(count).items():
                    api, ui = [], []
                    for _ in range(rounds):
                        start = time.perf_counter()
                        r = await client.get(f"/api/v1/jobs?per_page=50&{qs}", headers=headers)
                        api.append(time.perf_counter() - start)
                        assert r.status_code == 200, r.text[:300]
                        meta = r.json()["meta"]
                        start = time.perf_counter()
                        page = await client.get(f"/ui/jobs?{qs}")
                        ui.append(time.perf_counter() - start)
                        assert page.status_code == 200, page.text[:300]
                    exact = "" if meta.get("total_exact", True) else "+"
                    print(
                        f"  {name:26} API p50 {statistics.median(api) * 1000:7.1f} ms, "
                        f"console p50 {statistics.median(ui) * 1000:7.1f} ms, "
                        f"total {meta['total']:,}{exact}, rows {len(r.json()['data'])}",
                        flush=True,
                    )
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.jobs --list")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args, _ = parser.parse_known_args(argv)
    os.environ.setdefault("FOREDECK_LOG_LEVEL", "WARNING")
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    if not args.skip_sqlite:
        asyncio.run(measure(None, args.jobs, args.rounds, "SQLite"))
    if not args.skip_pg:
        asyncio.run(measure(PG_URL, args.jobs, args.rounds, "PostgreSQL"))
    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
