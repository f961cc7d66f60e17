"""Scale-out end to end: PostgreSQL + Redis + a real `foredeck worker` (Celery) subprocess.

Covers: jobs run on Celery with state in the database, pause of a Celery worker holds its jobs,
kill -9 of the worker mid-job requeues the job after its lease and a new worker finishes it
(with a higher fencing token), and the lock comes back free.
"""

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
import redis
from fastapi import FastAPI

from foredeck.app import create_app
from foredeck.config import Config
from foredeck.jobs.settings import JOB_SETTINGS, JobSettings
from foredeck.kit.runtime import runtime_of
from foredeck.workers import celery_app as fc
from tests.conftest import PASSWORD, _recreate_postgres, unique
from tests.jobs.helpers import wait_job
from tests.workers.test_celery_messages import _messages

pytestmark = pytest.mark.slow
PG_URL = os.environ.get(
    "FOREDECK_TEST_CELERY_DATABASE_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/foredeck_test_jobs_celery",
)
CELERY_REDIS = os.environ.get("FOREDECK_TEST_CELERY_REDIS_URL", "redis://127.0.0.1:6379/14")
LEASE = "3"


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FOREDECK_DATA_DIR": str(data_dir),
        "FOREDECK_DATABASE_URL": PG_URL,
        "FOREDECK_REDIS_URL": CELERY_REDIS,
        "FOREDECK_JOB_LEASE_SECONDS": LEASE,
        "FOREDECK_WORKER_HEARTBEAT_SECONDS": "1",
        "FOREDECK_JOB_RETRY_BASE_SECONDS": "0.1",
        "FOREDECK_LOG_LEVEL": "WARNING",
    }


def worker_log(data_dir: Path, name: str) -> Path:
    return data_dir / f"{name.replace('@', '_')}.log"


def start_worker(data_dir: Path, name: str, **env: str) -> subprocess.Popen[bytes]:
    """A `foredeck worker` whose stdout and stderr both go to worker_log(data_dir, name)."""
    with worker_log(data_dir, name).open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "foredeck.cli", "worker", "--name", name, "-c", "2"],
            env={**_env(data_dir), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
async def scale_app(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> AsyncIterator[FastAPI]:
    r = redis.Redis.from_url(CELERY_REDIS)
    r.flushdb()
    r.close()
    await _recreate_postgres(PG_URL)
    data_dir = tmp_path_factory.mktemp("scale")
    config = Config(
        data_dir=data_dir,
        database_url=PG_URL,
        redis_url=CELERY_REDIS,
        # The Redis rate-limit store needs `coredis`, which is not installed (a platform issue).
        rate_limit_enabled=False,
    )
    app = create_app(config)
    runtime_of(app)[JOB_SETTINGS] = JobSettings(
        job_lease_seconds=float(LEASE),
        worker_heartbeat_seconds=1,
        dispatch_resend_seconds=2,
        job_retry_base_seconds=0.1,
    )
    app.state.data_dir_for_workers = data_dir
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture(scope="module")
async def scale_client(scale_app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, dict]]:
    from foredeck.auth import service as auth_service
    from foredeck.auth.schemas import Role
    from foredeck.db import transaction

    name = unique("op")
    async with transaction(runtime_of(scale_app).sessionmaker) as session:
        await auth_service.create_user(session, username=name, password=PASSWORD, role=Role.admin)
    transport = httpx.ASGITransport(app=scale_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        resp = await client.post(
            "/api/v1/auth/token", json={"username": name, "password": PASSWORD}
        )
        headers = {"Authorization": f"Bearer {resp.json()['data']['access_token']}"}
        yield client, headers


async def _wait_worker(client: httpx.AsyncClient, headers: dict, name: str, status: str) -> dict:
    for _ in range(1200):
        resp = await client.get(f"/api/v1/workers/{name}", headers=headers)
        if resp.status_code == 200 and resp.json()["data"]["status"] == status:
            return resp.json()["data"]  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"worker {name} never became {status}")


async def _create_together(app: FastAPI, n: int, params: dict) -> list[str]:
    """n test jobs in one commit, so the API sends them to Celery in one message."""
    from foredeck.db import transaction
    from foredeck.jobs import service as jobs_service

    async with transaction(runtime_of(app).sessionmaker) as session:
        return [
            (await jobs_service.create_job(session, kind="test", params=params)).id
            for _ in range(n)
        ]


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


async def test_celery_runs_jobs_pause_and_crash_recovery(
    scale_app: FastAPI, scale_client: tuple[httpx.AsyncClient, dict]
) -> None:
    client, headers = scale_client
    data_dir = scale_app.state.data_dir_for_workers
    health = (await client.get("/health")).json()
    assert health["mode"] == "scale-out"
    first = start_worker(data_dir, "w1@test")
    second: subprocess.Popen[bytes] | None = None
    try:
        await _wait_worker(client, headers, "w1@test", "running")
        # Messages foredeck did not write are dropped, and the worker goes on.
        for args in ([12], []):
            fc.client_for(CELERY_REDIS).send_task(fc.TASK_NAME, args=args, queue="default")
        resp = await client.post(
            "/api/v1/jobs/test", json={"count": 3, "delay": 0}, headers=headers
        )
        job = resp.json()["data"]["job"]
        done = await wait_job(client, headers, job["id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded" and done["worker_id"] == "w1@test"
        assert (await client.get("/health")).json()["services"]["task_queue"] == "connected"

        # A failed attempt goes back to Celery in a delayed message, which the worker holds
        # until the backoff is over (only the two messages above were malformed).
        resp = await client.post(
            "/api/v1/jobs",
            json={"kind": "test", "params": {"count": 1, "delay": 0, "fail_attempts": 1}},
            headers=headers,
        )
        retried = resp.json()["data"]["job"]
        done = await wait_job(client, headers, retried["id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded" and done["attempts"] == 2, done
        log_text = (data_dir / "w1_test.log").read_text()
        assert log_text.count("worker_message_malformed") == 2, log_text

        # Pause: the worker stops consuming and its jobs wait; resume lets them run.
        await client.post("/api/v1/workers/w1@test/pause", headers=headers)
        await _wait_worker(client, headers, "w1@test", "paused")
        resp = await client.post(
            "/api/v1/jobs/test", json={"count": 1, "delay": 0}, headers=headers
        )
        held = resp.json()["data"]["job"]
        await asyncio.sleep(1.0)
        got = (await client.get(f"/api/v1/jobs/{held['id']}", headers=headers)).json()["data"]
        assert got["status"] == "queued"
        await client.post("/api/v1/workers/w1@test/resume", headers=headers)
        await wait_job(client, headers, held["id"], ("succeeded",))

        # kill -9 mid-job: the lease runs out, the job is requeued, another worker finishes it.
        lock = unique("crash")
        resp = await client.post(
            "/api/v1/jobs",
            json={"kind": "test", "params": {"count": 40, "delay": 0.1, "lock": lock}},
            headers=headers,
        )
        crash = resp.json()["data"]["job"]
        running = await wait_job(
            client,
            headers,
            crash["id"],
            ("running",),
            predicate=lambda j: j["progress"]["done"] >= 3,
        )
        _stop(first, signal.SIGKILL)
        second = start_worker(data_dir, "w2@test")
        done = await wait_job(client, headers, crash["id"], ("succeeded", "failed"), deadline=120)
        assert done["status"] == "succeeded", done
        # The lost attempt is not spent: only the one that ran to the end counts.
        assert done["worker_id"] == "w2@test" and done["attempts"] == 1
        # It resumed from its checkpoint rather than starting over.
        assert done["result"]["resumed_from"] >= running["progress"]["done"] - 1
        runs = (await client.get(f"/api/v1/jobs/{crash['id']}/runs", headers=headers)).json()
        assert [r["status"] for r in runs["data"]] == ["lost", "succeeded"]
        locks = (await client.get("/api/v1/locks", headers=headers)).json()["data"]
        assert not next(lk for lk in locks if lk["name"] == f"test:{lock}")["held"]
        workers = {
            w["id"]: w
            for w in (await client.get("/api/v1/workers", headers=headers)).json()["data"]
        }
        assert workers["w1@test"]["status"] in ("stale", "running")

        # Jobs that commit together travel in one message; the worker (-c 2) still runs no
        # more than two of them at once, and all of them run.
        batch = await _create_together(scale_app, 5, {"count": 2, "delay": 0.2})
        spans = []
        for job_id in batch:
            done = await wait_job(client, headers, job_id, ("succeeded", "failed"), deadline=60)
            assert done["status"] == "succeeded" and done["worker_id"] == "w2@test"
            spans.append((done["started_at"], done["finished_at"]))
        overlap = max(sum(1 for s, f in spans if s <= at < f) for at, _ in spans)
        assert overlap == 2, spans

        # Warm shutdown in the middle of a message: the two running jobs are requeued at their
        # next check, and the two not yet started stay queued, untouched, for another worker.
        rest = await _create_together(scale_app, 4, {"count": 50, "delay": 0.1})

        async def statuses() -> list[dict]:
            got = [await client.get(f"/api/v1/jobs/{i}", headers=headers) for i in rest]
            return [r.json()["data"] for r in got]

        for _ in range(300):
            if sum(j["status"] == "running" for j in await statuses()) == 2:
                break
            await asyncio.sleep(0.1)
        _stop(second)
        after = await statuses()
        assert [j["status"] for j in after] == ["queued"] * 4, after
        runs = [(await client.get(f"/api/v1/jobs/{i}/runs", headers=headers)).json() for i in rest]
        attempts = sorted([r["status"] for r in got["data"]] for got in runs)
        assert attempts == [[], [], ["interrupted"], ["interrupted"]], runs
        # The message of the two that never started went back to the broker as the worker
        # stopped, for the next worker to take at once.
        never = {i for i, got in zip(rest, runs, strict=True) if not got["data"]}
        broker = redis.Redis.from_url(CELERY_REDIS)
        try:
            held = {i for ids, _ in _messages(broker, "default") for i in ids}
        finally:
            broker.close()
        assert never <= held, (never, held)
    finally:
        _stop(first, signal.SIGKILL)
        if second is not None:
            _stop(second)
    if second is not None:
        stopped = (await client.get("/api/v1/workers/w2@test", headers=headers)).json()["data"]
        assert stopped["status"] == "stopped"


async def test_celery_worker_in_json_mode_writes_json_lines_only(
    scale_app: FastAPI, scale_client: tuple[httpx.AsyncClient, dict]
) -> None:
    """A log shipper reads the worker's output line by line: Celery's own lines included."""
    client, headers = scale_client
    data_dir = scale_app.state.data_dir_for_workers
    proc = start_worker(data_dir, "wj@test", FOREDECK_LOG_FORMAT="json", FOREDECK_LOG_LEVEL="INFO")
    try:
        await _wait_worker(client, headers, "wj@test", "running")
        resp = await client.post(
            "/api/v1/jobs/test", json={"count": 1, "delay": 0}, headers=headers
        )
        job = resp.json()["data"]["job"]
        done = await wait_job(client, headers, job["id"], ("succeeded", "failed"))
        assert done["status"] == "succeeded"
    finally:
        _stop(proc)
    lines = [line for line in worker_log(data_dir, "wj@test").read_text().splitlines() if line]
    assert lines, "the worker wrote nothing at INFO"
    plain = [line for line in lines if not line.startswith("{")]
    assert not plain, plain[:5]
    events = [json.loads(line) for line in lines]
    assert all(isinstance(e, dict) and e.get("event") and e.get("level") for e in events)
    assert any(e["event"] == "wj@test ready." for e in events)
    # Celery's root warning and shutdown notice, which it prints past logging, are JSON too.
    if os.geteuid() == 0:
        assert any("superuser privileges" in e["event"] for e in events)
    assert any(e.get("message") == "worker: Warm shutdown (MainProcess)" for e in events)
