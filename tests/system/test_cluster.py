"""The scale-out deployment end to end: two `foredeck serve` replicas (A, B) and two
`foredeck worker` processes as subprocesses, each with its own data directory. They share state
only through one PostgreSQL database, one Redis (a private `redis-server` the test starts, so it
can restart it) and one S3-compatible store (moto's server on 127.0.0.1, started by the test):
no folder is shared. Runs in the PostgreSQL pass of `make test` only: the deployment it proves is
PostgreSQL + Redis + S3, and it makes its own database next to the pass's one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.blobs.s3server import ACCESS_KEY, s3_server
from tests.conftest import PASSWORD, TEST_DB_URL, _recreate_postgres, unique
from tests.system.cluster import Cluster, RedisServer, poll

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not TEST_DB_URL.startswith("postgresql"), reason="the cluster runs on PostgreSQL"
    ),
    pytest.mark.skipif(
        shutil.which("redis-server") is None, reason="the cluster runs its own redis-server"
    ),
]
CLUSTER_DB = os.environ.get(
    "FOREDECK_TEST_CLUSTER_DATABASE_URL",
    TEST_DB_URL.split("?")[0] + "_cluster" if TEST_DB_URL else "",
)
WORKERS = ("cw1@test", "cw2@test")
# Rows of the import whose worker is killed: read in batches of 100, so it runs for seconds.
CRASH_ROWS = 30_000
Cl = tuple[Cluster, httpx.Client, httpx.Client]


def _rows(prefix: str, n: int) -> bytes:
    lines = (
        json.dumps({"external_id": f"{prefix}-{i}", "content": f"{prefix} {i}"}) for i in range(n)
    )
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cl]:
    asyncio.run(_recreate_postgres(CLUSTER_DB))
    root = tmp_path_factory.mktemp("cluster")
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"))
    redis_server.start()
    with s3_server(tmp_path_factory.mktemp("s3-secret")) as s3:
        env = {
            **os.environ,
            "FOREDECK_DATABASE_URL": CLUSTER_DB,
            "FOREDECK_REDIS_URL": redis_server.url,
            "FOREDECK_BLOB_STORE": "s3",
            "FOREDECK_S3_ENDPOINT_URL": s3.endpoint_url,
            "FOREDECK_S3_BUCKET": s3.make_bucket(),
            "FOREDECK_S3_REGION": "us-east-1",
            "FOREDECK_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "FOREDECK_S3_SECRET_ACCESS_KEY_FILE": str(s3.secret_file),
            # Both replicas must sign and check the same tokens.
            "FOREDECK_SECRET_KEY": secrets.token_urlsafe(48),
            "FOREDECK_EMBEDDING_MODEL": "static-64",
            # A killed worker's lease runs out in 3 s; its lost messages are sent again after 2 s.
            "FOREDECK_JOB_LEASE_SECONDS": "3",
            "FOREDECK_WORKER_HEARTBEAT_SECONDS": "1",
            "FOREDECK_DISPATCH_RESEND_SECONDS": "2",
            "FOREDECK_LOG_LEVEL": "WARNING",
            # The Redis rate-limit store needs an extra package; limits are not what this checks.
            "FOREDECK_RATE_LIMIT_ENABLED": "false",
            # kombu dumps the messages it cannot give back when Redis dies to a temp file.
            "TMPDIR": str(tmp_path_factory.mktemp("tmp")),
        }
        with _running(Cluster(root, env, redis_server)) as cl:
            yield cl


@contextlib.contextmanager
def _running(c: Cluster) -> Iterator[Cl]:
    try:
        # Migrated first, as a deployment does; then every process starts at once on the empty
        # database, so they race to make the first admin, the built-in schedules and the
        # index state row, and each must start.
        c.cli("db", "upgrade")
        url_a, url_b = c.serve("serve-a"), c.serve("serve-b")
        for name in WORKERS:
            c.worker(name)
        c.ready("serve-a")
        c.ready("serve-b")
        user = unique("cluster")
        c.cli("users", "create", user, "--role", "admin", "--password", PASSWORD)
        token = httpx.post(
            f"{url_a}/api/v1/auth/token", json={"username": user, "password": PASSWORD}
        ).json()["data"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with (
            httpx.Client(base_url=url_a, headers=headers, timeout=30) as a,
            httpx.Client(base_url=url_b, headers=headers, timeout=30) as b,
        ):
            yield c, a, b
    finally:
        c.stop()
        c.redis.crash()


def _job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    resp = client.get(f"/api/v1/jobs/{job_id}")
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]  # type: ignore[no-any-return]


def _wait(
    client: httpx.Client, job_id: str, statuses: tuple[str, ...], *, deadline: float = 120
) -> dict[str, Any]:
    return poll(  # type: ignore[no-any-return]
        lambda: (j := _job(client, job_id))["status"] in statuses and j,
        f"job {job_id} reaching {statuses}",
        deadline=deadline,
    )


def _upload(client: httpx.Client, body: bytes, collection: str) -> httpx.Response:
    return client.post(
        "/api/v1/operations/import",
        files={"file": ("rows.jsonl", body, "application/x-ndjson")},
        data={"collection": collection},
    )


def _total(client: httpx.Client, collection: str) -> int:
    resp = client.get("/api/v1/memories", params={"collection": collection, "per_page": 1})
    assert resp.status_code == 200, resp.text
    return int(resp.json()["meta"]["total"])


def _workers(client: httpx.Client) -> dict[str, str]:
    resp = client.get("/api/v1/workers")
    assert resp.status_code == 200, resp.text
    return {w["id"]: w["status"] for w in resp.json()["data"] if w["id"] in WORKERS}


def test_health_on_both_replicas(cluster: Cl) -> None:
    _c, a, b = cluster
    for client in (a, b):

        def connected(client: httpx.Client = client) -> dict[str, Any] | None:
            # The task queue reads as connected once a worker answers.
            body: dict[str, Any] = client.get("/health").json()
            return body if body["services"].get("task_queue") == "connected" else None

        body = poll(connected, f"{client.base_url} healthy", deadline=90, every=0.5)
        assert body["mode"] == "scale-out" and body["status"] == "healthy"
        services = ("database", "redis", "task_queue", "blob_store")
        assert {k: body["services"][k] for k in services} == dict.fromkeys(services, "connected")
    # Both workers are registered and running, as either replica sees them.
    for client in (a, b):
        poll(
            lambda client=client: _workers(client) == dict.fromkeys(WORKERS, "running"),
            "both workers running",
            deadline=90,
        )


def test_upload_on_a_runs_on_a_worker_streams_on_b_and_counts_on_b(cluster: Cl) -> None:
    _c, a, b = cluster
    coll = unique("up")
    resp = _upload(a, _rows(coll, 200), coll)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["data"]["job_id"]
    # B streams the events A's job writes, to its end.
    events: list[tuple[str, dict[str, Any]]] = []
    end = time.monotonic() + 120
    with b.stream("GET", f"/api/v1/jobs/{job_id}/events", timeout=60) as stream:
        assert stream.status_code == 200
        kind = ""
        for line in stream.iter_lines():
            assert time.monotonic() < end, events
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
                if kind == "end":
                    break
    statuses = [e["data"].get("status") for k, e in events if k == "status"]
    assert "running" in statuses and statuses[-1] == "succeeded", events
    job = _job(b, job_id)
    assert job["status"] == "succeeded" and job["worker_id"] in WORKERS
    assert job["result"]["inserted"] == 200
    assert _total(b, coll) == 200


def test_pause_on_b_holds_a_job_from_a_until_resumed_on_a(cluster: Cl) -> None:
    _c, a, b = cluster
    assert b.post("/api/v1/workers/pause-all").status_code == 200
    try:
        poll(lambda: _workers(a) == dict.fromkeys(WORKERS, "paused"), "both workers paused")
        resp = a.post("/api/v1/jobs", json={"kind": "test", "params": {"count": 2, "delay": 0}})
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["data"]["job"]["id"]
        # Paused workers take nothing: a second later it still waits.
        time.sleep(1.5)
        assert _job(b, job_id)["status"] == "queued"
    finally:
        assert a.post("/api/v1/workers/resume-all").status_code == 200
    done = _wait(b, job_id, ("succeeded", "failed"))
    assert done["status"] == "succeeded" and done["worker_id"] in WORKERS


def _search(client: httpx.Client, coll: str) -> list[int]:
    body = {"query": f"{coll} 7", "mode": "semantic", "collection": coll, "k": 5}
    resp = client.post("/api/v1/search", json=body)
    assert resp.status_code == 200, resp.text
    return [hit["memory"]["id"] for hit in resp.json()["data"]["hits"]]


def test_a_rebuild_through_a_is_loaded_by_b_from_the_store(cluster: Cl) -> None:
    c, a, b = cluster
    coll = unique("ckpt")
    resp = _upload(a, _rows(coll, 40), coll)
    assert resp.status_code == 202, resp.text
    assert _wait(b, resp.json()["data"]["job_id"], ("succeeded", "failed"))["status"] == (
        "succeeded"
    )

    def embedded() -> bool:
        params = {"collection": coll, "embedding_state": "embedded", "per_page": 1}
        return int(b.get("/api/v1/memories", params=params).json()["meta"]["total"]) == 40

    # Before the kill test's 30,000 rows, so these 40 do not wait behind their embedding.
    poll(embedded, "the records embedded", deadline=120)
    resp = a.post("/api/v1/operations/index")
    assert resp.status_code == 202, resp.text
    done = _wait(a, resp.json()["data"]["job_id"], ("succeeded", "failed"))
    assert done["status"] == "succeeded", done
    folder = done["result"]["folder"]
    # A worker wrote it. A search makes a replica load the newest generation; B has its own
    # data dir, so its copy can only have come from the store.
    hits = _search(b, coll)
    assert (c.data_dir("serve-b") / "index" / folder / "index.faiss").is_file()
    assert len(hits) == 5
    assert hits == _search(a, coll)
    assert (c.data_dir("serve-a") / "index" / folder / "index.faiss").is_file()


def test_kill_9_of_the_importing_worker_resumes_on_the_other(cluster: Cl) -> None:
    c, a, b = cluster
    resp = a.put("/api/v1/settings/operations", json={"batch_size": 100})
    assert resp.status_code == 200, resp.text
    coll = unique("crash")
    resp = _upload(a, _rows(coll, CRASH_ROWS), coll)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["data"]["job_id"]
    running = poll(
        lambda: (
            (j := _job(a, job_id))["status"] == "running"
            and 0 < j["progress"]["done"] < CRASH_ROWS
            and j
        ),
        "the import running",
    )
    # A second import through the other replica is refused while A's holds the lock.
    other = unique("other")
    refused = _upload(b, _rows(other, 5), other)
    assert refused.status_code == 409, refused.text
    assert job_id in refused.text
    victim = running["worker_id"]
    assert victim in WORKERS
    c.kill(victim)
    survivor = next(w for w in WORKERS if w != victim)
    done = _wait(b, job_id, ("succeeded", "failed", "cancelled"), deadline=180)
    assert done["status"] == "succeeded", (done, c.tail(survivor))
    assert done["worker_id"] == survivor
    # The lost attempt was not spent.
    assert done["attempts"] == 1
    assert done["result"]["inserted"] == CRASH_ROWS
    runs = b.get(f"/api/v1/jobs/{job_id}/runs").json()["data"]
    assert [(r["worker_id"], r["status"]) for r in runs] == [
        (victim, "lost"),
        (survivor, "succeeded"),
    ]
    assert _total(a, coll) == CRASH_ROWS
    assert asyncio.run(_distinct_ids(coll)) == (CRASH_ROWS, CRASH_ROWS)
    assert _total(b, other) == 0


async def _distinct_ids(collection: str) -> tuple[int, int]:
    import asyncpg

    conn = await asyncpg.connect(CLUSTER_DB.replace("postgresql+asyncpg", "postgresql"))
    try:
        row = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT external_id) FROM memories WHERE collection = $1",
            collection,
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row[0]), int(row[1])


def test_export_started_on_b_downloads_from_a(cluster: Cl) -> None:
    _c, a, b = cluster
    coll = unique("exp")
    resp = _upload(b, _rows(coll, 50), coll)
    assert resp.status_code == 202, resp.text
    assert _wait(a, resp.json()["data"]["job_id"], ("succeeded", "failed"))["status"] == (
        "succeeded"
    )
    resp = b.post("/api/v1/operations/export", json={"format": "jsonl", "collection": coll})
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["data"]["job_id"]
    assert _wait(b, job_id, ("succeeded", "failed"))["status"] == "succeeded"
    download = a.get(f"/api/v1/jobs/{job_id}/download")
    assert download.status_code == 200, download.text
    lines = [json.loads(line) for line in download.text.splitlines() if line]
    assert sorted(r["external_id"] for r in lines) == sorted(f"{coll}-{i}" for i in range(50))


def test_redis_restarted_while_jobs_run_loses_and_repeats_none(cluster: Cl) -> None:
    c, a, b = cluster
    jobs = []
    for client in (a, b, a, b):
        resp = client.post(
            "/api/v1/jobs", json={"kind": "test", "params": {"count": 10, "delay": 0.4}}
        )
        assert resp.status_code == 202, resp.text
        jobs.append(resp.json()["data"]["job"]["id"])
    coll = unique("redis")
    resp = _upload(b, _rows(coll, 3000), coll)
    assert resp.status_code == 202, resp.text
    imported = resp.json()["data"]["job_id"]
    poll(lambda: _job(a, jobs[0])["status"] == "running", "a job running")
    # Redis keeps nothing on disk here: the restart loses the queued messages as well.
    c.redis.crash()
    time.sleep(2)
    c.redis.start()
    for job_id in [*jobs, imported]:
        done = _wait(b, job_id, ("succeeded", "failed", "cancelled"), deadline=180)
        assert done["status"] == "succeeded", done
        runs = a.get(f"/api/v1/jobs/{job_id}/runs").json()["data"]
        # One run each: no job ran twice, none was taken for lost.
        assert [r["status"] for r in runs] == ["succeeded"], (job_id, runs)
        if job_id != imported:
            assert done["result"] == {"counted": 10, "resumed_from": 0}
    assert asyncio.run(_distinct_ids(coll)) == (3000, 3000)
    # Both replicas see Redis and the workers again.
    for client in (a, b):
        poll(
            lambda client=client: client.get("/health").json()["status"] == "healthy",
            f"{client.base_url} healthy again",
            deadline=60,
        )


def test_no_process_died_but_the_killed_one(cluster: Cl) -> None:
    c, _a, _b = cluster
    assert len(c.killed) == 1
    for name, proc in c.procs.items():
        if name not in c.killed:
            assert proc.poll() is None, (name, c.tail(name))
