"""Prepare `make cluster`: its data dir, its PostgreSQL database (created when missing) and the
honcho env file every process of the cluster reads (one signing key for both replicas)."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
from pathlib import Path

DATABASE_URL = os.environ.get(
    "CLUSTER_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/foredeck_cluster"
)
REDIS_URL = os.environ.get("CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/0")
DATA_DIR = Path(os.environ.get("CLUSTER_DIR", "var/cluster")).resolve()


async def ensure_database(url: str) -> None:
    import asyncpg

    dsn = url.replace("postgresql+asyncpg", "postgresql").split("?")[0]
    name = dsn.rsplit("/", 1)[1]
    try:
        conn = await asyncpg.connect(dsn.rsplit("/", 1)[0] + "/postgres")
    except (OSError, asyncpg.PostgresError) as exc:
        sys.exit(f"PostgreSQL is not reachable at {dsn.rsplit('/', 1)[0]}: {exc}")
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")
    finally:
        await conn.close()


def main() -> None:
    if not DATABASE_URL.startswith("postgresql+asyncpg://"):
        sys.exit("CLUSTER_DATABASE_URL must be a postgresql+asyncpg:// URL")
    asyncio.run(ensure_database(DATABASE_URL))
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    env_file = DATA_DIR / ".env"
    key = ""
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("FOREDECK_SECRET_KEY="):
                key = line.split("=", 1)[1]
    values = {
        "FOREDECK_DATABASE_URL": DATABASE_URL,
        "FOREDECK_REDIS_URL": REDIS_URL,
        # No blob store yet: every process of this one-machine cluster shares this folder.
        "FOREDECK_DATA_DIR": str(DATA_DIR),
        "FOREDECK_SECRET_KEY": key or secrets.token_urlsafe(48),
        # The rate limiter's Redis store needs `coredis`; limits stay per process here.
        "FOREDECK_RATE_LIMIT_ENABLED": "false",
    }
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    print(f"cluster settings in {env_file}")


if __name__ == "__main__":
    main()
