"""Scale-out: an import and an export run as Celery jobs on a `foredeck worker` process, with
PostgreSQL and Redis, against the same data directory as the API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from foredeck.app import create_app
from foredeck.config import Config
from foredeck.kit.runtime import runtime_of
from tests.conftest import PASSWORD, _recreate_postgres, unique
from tests.operations.helpers import import_path, records, run_export, run_import

pytestmark = pytest.mark.slow
PG_URL = os.environ.get(
    "FOREDECK_TEST_OPS_CELERY_DATABASE_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/foredeck_test_ops_celery",
)
CELERY_REDIS = os.environ.get("FOREDECK_TEST_OPS_CELERY_REDIS_URL", "redis://127.0.0.1:6379/13")
WORKER = "ops-w1@test"


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "foredeck.cli", "worker", "--name", WORKER, "-c", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
async def scale(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, dict, Path]]:
    import redis

    from foredeck.auth import service as auth_service
    from foredeck.auth.schemas import Role
    from foredeck.db import transaction

    r = redis.Redis.from_url(CELERY_REDIS)
    r.flushdb()
    r.close()
    await _recreate_postgres(PG_URL)
    data_dir = tmp_path_factory.mktemp("ops-scale")
    config = Config(
        data_dir=data_dir, database_url=PG_URL, redis_url=CELERY_REDIS, rate_limit_enabled=False
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        name = unique("op")
        async with transaction(runtime_of(app).sessionmaker) as session:
            await auth_service.create_user(
                session, username=name, password=PASSWORD, role=Role.admin
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            resp = await client.post(
                "/api/v1/auth/token", json={"username": name, "password": PASSWORD}
            )
            headers = {"Authorization": f"Bearer {resp.json()['data']['access_token']}"}
            yield app, client, headers, data_dir


async def test_import_and_export_on_a_celery_worker(
    scale: tuple[FastAPI, httpx.AsyncClient, dict, Path],
) -> None:
    app, client, headers, data_dir = scale
    env = {
        **os.environ,
        "FOREDECK_DATA_DIR": str(data_dir),
        "FOREDECK_DATABASE_URL": PG_URL,
        "FOREDECK_REDIS_URL": CELERY_REDIS,
        "FOREDECK_LOG_LEVEL": "WARNING",
    }
    worker = start_worker(env, data_dir / "worker.log")
    try:
        for _ in range(1200):
            resp = await client.get(f"/api/v1/workers/{WORKER}", headers=headers)
            if resp.status_code == 200 and resp.json()["data"]["status"] == "running":
                break
            await asyncio.sleep(0.1)
        coll = unique("celery")
        path = import_path(app, f"{coll}.jsonl")
        path.write_text(
            "\n".join(
                json.dumps({"external_id": str(i), "content": f"on celery {i}"}) for i in range(50)
            )
        )
        job = await run_import(client, headers, path=path.name, collection=coll)
        assert job["worker_id"] == WORKER and job["result"]["inserted"] == 50
        again = await run_import(client, headers, path=path.name, collection=coll)
        assert again["result"]["unchanged"] == 50
        export, body = await run_export(client, headers, format="csv", collection=coll)
        assert export["worker_id"] == WORKER
        assert body.decode().count("on celery") == 50
        assert len(await records(client, headers, coll)) == 50
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
