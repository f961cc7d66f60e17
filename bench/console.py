"""Console speed: the jobs page against the same query through the API, and SSE under an import.

1. Jobs page render p50 at N jobs (1,000,000 with --full) against GET /api/v1/jobs with the
   same filter and page size, both through the same app in-process, interleaved.
2. A `foredeck serve` subprocess; 200 console SSE clients on /ui/sse while an import runs:
   delivery latency of the import's progress events (publish → browser socket), and the
   import's rows/s against the same import with no clients, in the same run.

Run: .venv/bin/python -m bench.console [--full] [--clients 200] [--rows 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench._http import free_port
from foredeck.kit.runtime import runtime_of

PASSWORD = "bench-password-123"
# Latency is read on this many of the clients; all of them receive every event.
MEASURED_CLIENTS = 20


@contextlib.contextmanager
def _server(args: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[None]:
    """A `foredeck serve` subprocess whose output goes to a file (a pipe could fill and block)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), 0.2),
                ):
                    break
                if proc.poll() is not None:
                    raise RuntimeError(log.read_text()[-2000:])
                time.sleep(0.1)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=out, stderr=out)
        try:
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _insert_jobs(db: Path, count: int) -> None:
    """Fill the jobs table directly (the benchmark measures reading, not enqueueing)."""
    conn = sqlite3.connect(db)
    now = datetime.now(UTC)
    kinds = ["import", "export", "embed", "test", "generate"]
    statuses = ["succeeded"] * 8 + ["failed", "cancelled"]
    rows = []
    for i in range(count):
        created = (now - timedelta(seconds=count - i)).isoformat()
        status = statuses[i % len(statuses)]
        rows.append(
            (
                str(uuid.UUID(int=i + 1)),
                kinds[i % len(kinds)],
                "operations" if i % 3 else "default",
                0,
                status,
                "{}",
                100,
                100,
                "{}",
                "boom: row error" if status == "failed" else None,
                1,
                1,
                "[]",
                0,
                created,
                created,
                created,
                created,
            )
        )
    conn.executemany(
        "INSERT INTO jobs (id, kind, queue, priority, status, params, progress_done, "
        "progress_total, counters, error, attempts, max_attempts, lock_keys, fence, "
        "created_at, run_after, finished_at, updated_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        rows,
    )
    conn.commit()
    conn.close()


async def _login(client: httpx.AsyncClient, username: str) -> str:
    import re

    page = await client.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    resp = await client.post(
        "/ui/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert resp.status_code == 303, resp.text
    home = await client.get("/ui/")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', home.text)
    assert found
    return found.group(1)


async def _make_admin(app: Any, username: str) -> None:
    from foredeck.auth import service as auth_service
    from foredeck.auth.schemas import Role
    from foredeck.db import transaction

    async with transaction(runtime_of(app).sessionmaker) as session:
        await auth_service.create_user(
            session, username=username, password=PASSWORD, role=Role.admin
        )


async def jobs_page(count: int, rounds: int) -> dict[str, float]:
    """p50 of the console jobs page and of the API list with the same filter."""
    from foredeck.app import create_app
    from foredeck.config import Config

    data = Path(tempfile.mkdtemp(prefix="bench-console-"))
    try:
        config = Config(data_dir=data, rate_limit_enabled=False, workers=0, log_level="WARNING")
        app = create_app(config)
        async with app.router.lifespan_context(app):
            t0 = time.perf_counter()
            await asyncio.to_thread(_insert_jobs, data / "foredeck.db", count)
            print(f"  inserted {count:,} jobs in {time.perf_counter() - t0:.1f} s", flush=True)
            await _make_admin(app, "bench")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                await _login(client, "bench")
                # A bearer token for the API side, asked for without the console cookie.
                async with httpx.AsyncClient(transport=transport, base_url="http://b") as bare:
                    resp = await bare.post(
                        "/api/v1/auth/token", json={"username": "bench", "password": PASSWORD}
                    )
                assert resp.status_code == 200, resp.text
                token = resp.json()["data"]["access_token"]
                api_headers = {"Authorization": f"Bearer {token}"}
                cases = {
                    "newest": ("", ""),
                    "failed": ("status=failed", "status=failed"),
                    "kind+queue": ("kind=import&queue=operations", "kind=import&queue=operations"),
                }
                out: dict[str, float] = {}
                for name, (ui_q, api_q) in cases.items():
                    ui, api = [], []
                    for _ in range(rounds):
                        start = time.perf_counter()
                        r = await client.get(f"/ui/jobs?{ui_q}")
                        ui.append(time.perf_counter() - start)
                        assert r.status_code == 200, r.text[:300]
                        start = time.perf_counter()
                        r = await client.get(
                            f"/api/v1/jobs?per_page=50&{api_q}", headers=api_headers
                        )
                        api.append(time.perf_counter() - start)
                        assert r.status_code == 200, r.text[:300]
                    ui_p50 = statistics.median(ui) * 1000
                    api_p50 = statistics.median(api) * 1000
                    out[name] = ui_p50 / api_p50
                    print(
                        f"  jobs page [{name}]: console p50 {ui_p50:.1f} ms, "
                        f"API p50 {api_p50:.1f} ms, ratio {ui_p50 / api_p50:.2f}x",
                        flush=True,
                    )
                return out
    finally:
        shutil.rmtree(data, ignore_errors=True)


def _csv(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write("content,external_id\n")
        for i in range(rows):
            out.write(f"bench record {i} about subject {i % 97} and detail {i % 13},e{i}\n")


async def _sse_client(
    base: str,
    cookies: httpx.Cookies,
    latencies: list[float],
    hub_latencies: list[float],
    ready: asyncio.Event,
    counter: list[int],
) -> None:
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=None) as client:
        async with client.stream("GET", "/ui/sse?topics=jobs,telemetry,workers") as resp:
            counter[0] += 1
            measuring = counter[0] <= MEASURED_CLIENTS
            if counter[0] >= counter[1]:
                ready.set()
            if not measuring:
                # The other clients only drain their stream, as a browser would, without
                # this process spending the two cores on parsing 200 copies of it.
                async for _chunk in resp.aiter_raw():
                    pass
                return
            async for line in resp.aiter_lines():
                if not line.startswith("data: "):
                    continue
                now = time.time()
                try:
                    payload = json.loads(line[6:])
                except ValueError:
                    continue
                if payload.get("topic") == "jobs" and payload.get("since"):
                    hub_latencies.append(now - float(payload["since"]))
                for item in payload.get("items") or []:
                    created = item.get("created_at") if isinstance(item, dict) else None
                    if created and item.get("kind") == "progress":
                        stamp = datetime.fromisoformat(created)
                        if stamp.tzinfo is None:
                            stamp = stamp.replace(tzinfo=UTC)
                        latencies.append(now - stamp.timestamp())


async def _wait_idle(client: httpx.AsyncClient) -> None:
    """Until no import is queued or running, so each import runs alone."""
    for _ in range(600):
        jobs = await client.get("/api/v1/jobs?status=queued&status=running&kind=import&per_page=1")
        if not jobs.json()["meta"]["total"]:
            return
        await asyncio.sleep(0.2)


async def _run_import(base: str, cookies: httpx.Cookies, csrf: str, path: Path) -> float:
    """Start an import through the API with the console session; rows/s from its result."""
    async with httpx.AsyncClient(base_url=base, cookies=cookies, timeout=600) as client:
        await _wait_idle(client)
        with path.open("rb") as fh:
            resp = await client.post(
                "/api/v1/operations/import",
                files={"file": (path.name, fh, "text/csv")},
                data={"collection": f"b{uuid.uuid4().hex[:8]}", "mode": "append"},
                headers={"X-CSRF-Token": csrf},
            )
        assert resp.status_code == 202, resp.text
        job_id = resp.json()["data"]["job_id"]
        seen, misses = False, 0
        while True:
            got = await client.get(f"/api/v1/jobs/{job_id}")
            if got.status_code == 404 and not seen and misses < 100:
                misses += 1
                # The request session commits after the 202 is sent (a yield dependency's
                # default scope), so the job can be missing for a moment: not measured here.
                await asyncio.sleep(0.05)
                continue
            assert got.status_code == 200, got.text
            seen = True
            job = got.json()["data"]
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
            await asyncio.sleep(0.2)
        assert job["status"] == "succeeded", job
        result = job["result"] or {}
        seconds = (
            float(result.get("seconds") or 0)
            or (
                datetime.fromisoformat(job["finished_at"])
                - datetime.fromisoformat(job["started_at"])
            ).total_seconds()
        )
        return float(result.get("rows_read", 0)) / seconds


async def sse_under_import(clients: int, rows: int, redis_url: str | None) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="bench-console-sse-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        "FOREDECK_DATA_DIR": str(data),
        "FOREDECK_RATE_LIMIT_ENABLED": "false",
        "FOREDECK_LOG_LEVEL": "WARNING",
    }
    if redis_url:
        # Scale-out: the server only serves; a Celery worker process runs the imports.
        env.update(FOREDECK_REDIS_URL=redis_url, FOREDECK_WORKERS="0")
    csv_path = data / "bench.csv"
    _csv(csv_path, rows)
    try:
        # The bench user is made with the CLI, as an operator would.
        create = [sys.executable, "-m", "foredeck.cli", "users", "create", "bench"]
        create += ["--role", "admin", "--password", PASSWORD, "--data-dir", str(data)]
        await asyncio.to_thread(
            subprocess.run, create, env={**os.environ, **env}, check=True, capture_output=True
        )
        args = [sys.executable, "-m", "foredeck.cli", "serve", "--port", str(port)]
        worker: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if redis_url:
            worker = _process(
                [sys.executable, "-m", "foredeck.cli", "worker", "-c", "2"],
                {**env, "FOREDECK_WORKERS": "2"},
                data / "worker.log",
            )
        with _server(args, port, env, data / "server.log"), worker:
            async with httpx.AsyncClient(base_url=base, timeout=60) as login:
                csrf = await _login(login, "bench")
                cookies = login.cookies
                # Embedding the imported rows would compete with the imports for the two
                # cores and blur the comparison, so that queue waits until the end.
                paused = await login.post(
                    "/api/v1/queues/embedding/pause", headers={"X-CSRF-Token": csrf}
                )
                assert paused.status_code == 200, paused.text
            baseline: list[float] = []
            with_clients: list[float] = []
            latencies: list[float] = []
            hub_latencies: list[float] = []
            # The first import into an empty store is much faster than the ones after it,
            # so one unmeasured import comes first.
            await _run_import(base, cookies, csrf, csv_path)
            # Alternate runs without and with clients so a drift (the store grows by
            # one import each run) falls on both sides alike.
            for loaded in (False, True, False, True, False):
                if not loaded:
                    baseline.append(await _run_import(base, cookies, csrf, csv_path))
                    continue
                ready = asyncio.Event()
                counter = [0, clients]
                tasks = [
                    asyncio.create_task(
                        _sse_client(base, cookies, latencies, hub_latencies, ready, counter)
                    )
                    for _ in range(clients)
                ]
                try:
                    await asyncio.wait_for(ready.wait(), 120)
                except TimeoutError:
                    raise RuntimeError(
                        f"only {counter[0]} of {clients} SSE clients connected"
                    ) from None
                with_clients.append(await _run_import(base, cookies, csrf, csv_path))
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        print(
            "  import rows/s without clients: "
            + ", ".join(f"{r:,.0f}" for r in baseline)
            + f"; with {clients} clients: "
            + ", ".join(f"{r:,.0f}" for r in with_clients),
            flush=True,
        )
        loaded_rate = statistics.median(with_clients)
        base_rate = statistics.median(baseline)
        p50 = _percentile(latencies, 0.5) * 1000 if latencies else float("nan")
        p99 = _percentile(latencies, 0.99) * 1000 if latencies else float("nan")
        hub50 = _percentile(hub_latencies, 0.5) * 1000 if hub_latencies else float("nan")
        hub99 = _percentile(hub_latencies, 0.99) * 1000 if hub_latencies else float("nan")
        print(
            f"  SSE delivery (hub received -> client socket, batch window included): "
            f"{len(hub_latencies):,} batches, p50 {hub50:.0f} ms, p99 {hub99:.0f} ms\n"
            f"  end to end (job event created -> client socket): "
            f"{len(latencies):,} progress events, p50 {p50:.0f} ms, p99 {p99:.0f} ms",
            flush=True,
        )
        print(
            f"  import: {base_rate:,.0f} rows/s without clients (median), "
            f"{loaded_rate:,.0f} rows/s with {clients} clients (median), "
            f"ratio {loaded_rate / base_rate:.2f}",
            flush=True,
        )
        return {
            "delivery_p99_ms": hub99,
            "end_to_end_p99_ms": p99,
            "rate_ratio": loaded_rate / base_rate,
        }
    except BaseException:
        for name in ("server.log", "worker.log"):
            if (data / name).exists():
                shutil.copy(data / name, Path(tempfile.gettempdir()) / f"bench-console-{name}")
        raise
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.console")
    parser.add_argument("--full", action="store_true", help="1,000,000 jobs (default 200,000)")
    parser.add_argument("--jobs", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--skip-sse", action="store_true")
    parser.add_argument("--skip-jobs", action="store_true")
    parser.add_argument(
        "--scale-out",
        nargs="?",
        const="redis://127.0.0.1:6379/14",
        default=None,
        help="run the SSE part in scale-out mode (Redis URL; a Celery worker runs the import)",
    )
    args, _ = parser.parse_known_args(sys.argv[2:] if sys.argv[1:2] == ["console"] else None)
    count = args.jobs or (1_000_000 if args.full else 200_000)
    os.environ.setdefault("FOREDECK_LOG_LEVEL", "WARNING")
    if not args.skip_jobs:
        print(f"bench.console: jobs page at {count:,} jobs", flush=True)
        asyncio.run(jobs_page(count, args.rounds))
    if not args.skip_sse:
        print(f"bench.console: {args.clients} SSE clients during a {args.rows:,}-row import")
        asyncio.run(sse_under_import(args.clients, args.rows, args.scale_out))


if __name__ == "__main__":
    main()
