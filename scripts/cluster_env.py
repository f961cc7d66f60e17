"""Prepare `make cluster`: its folder, its PostgreSQL database (created when missing) and the
honcho env file every process of the cluster reads (one signing key for both replicas, the S3
store's settings). Each process gets its own data dir under the folder from the Procfile: they
share nothing on disk, only PostgreSQL, Redis and the S3 store."""

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
S3_PORT = int(os.environ.get("CLUSTER_S3_PORT", "8003"))


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
    # moto accepts any credentials; the cluster still reads them from a file, as in production.
    secret_file = DATA_DIR / "s3-secret"
    if not secret_file.exists():
        secret_file.touch(mode=0o600)
        secret_file.write_text(secrets.token_urlsafe(32) + "\n")
    values = {
        "FOREDECK_DATABASE_URL": DATABASE_URL,
        "FOREDECK_REDIS_URL": REDIS_URL,
        # The data dir of one-off commands (`honcho run foredeck ...`); the Procfile gives each
        # process of the cluster its own under CLUSTER_DIR.
        "FOREDECK_DATA_DIR": str(DATA_DIR / "cli"),
        "CLUSTER_DIR": str(DATA_DIR),
        "CLUSTER_S3_PORT": str(S3_PORT),
        "FOREDECK_BLOB_STORE": "s3",
        "FOREDECK_S3_ENDPOINT_URL": f"http://127.0.0.1:{S3_PORT}",
        "FOREDECK_S3_BUCKET": "foredeck-cluster",
        "FOREDECK_S3_REGION": "us-east-1",
        "FOREDECK_S3_ACCESS_KEY_ID": "foredeck-cluster",
        "FOREDECK_S3_SECRET_ACCESS_KEY_FILE": str(secret_file),
        "FOREDECK_SECRET_KEY": key or secrets.token_urlsafe(48),
        # The rate limiter's Redis store needs `coredis`; limits stay per process here.
        "FOREDECK_RATE_LIMIT_ENABLED": "false",
    }
    env_file.touch(mode=0o600)
    env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    print(f"cluster settings in {env_file}")


if __name__ == "__main__":
    main()
