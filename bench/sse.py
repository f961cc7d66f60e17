"""bench.sse: 1,000 concurrent SSE clients on one server, delivery latency and lost events.

foredeck: clients follow one job's event stream (`GET /api/v1/jobs/{id}/events`) while the job
emits an event every 100 ms (persisted, then fanned out by the shared per-job reader).
Reference, same run, same client code: a bare sse-starlette app broadcasting every 100 ms.
Targets: p99 <= 250 ms and no lost events.

Run: .venv/bin/python -m bench.sse [--clients 1000] [--ticks 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

PASSWORD = "bench-password-123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- servers (run as subprocesses)
def serve_reference(port: int, ticks: int) -> None:
    import uvicorn
    from fastapi import FastAPI
    from sse_starlette import EventSourceResponse

    app = FastAPI()
    clients: set[asyncio.Queue[Any]] = set()

    @app.get("/stream")
    async def stream() -> Any:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        clients.add(queue)

        async def gen() -> Any:
            try:
                while True:
                    item = await queue.get()
                    if item is None:
                        yield {"event": "end", "data": "{}"}
                        return
                    yield {"event": "tick", "data": json.dumps(item)}
            finally:
                clients.discard(queue)

        return EventSourceResponse(gen(), ping=15)

    @app.post("/start")
    async def start() -> dict[str, int]:
        async def broadcast() -> None:
            for n in range(ticks):
                await asyncio.sleep(0.1)
                item = {"t": time.time(), "n": n}
                for q in list(clients):
                    q.put_nowait(item)
            for q in list(clients):
                q.put_nowait(None)

        asyncio.get_running_loop().create_task(broadcast())
        return {"clients": len(clients)}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_foredeck(port: int, ticks: int) -> None:
    import uvicorn

    from foredeck.app import create_app
    from foredeck.jobs.context import JobContext
    from foredeck.jobs.registry import job_handler

    @job_handler("bench_tick", queue="bench")
    async def tick(ctx: JobContext) -> dict[str, int]:
        """Emit an event every 100 ms."""
        for n in range(ticks):
            await asyncio.sleep(0.1)
            await ctx.event("tick", {"t": time.time(), "n": n})
        return {"ticks": ticks}

    uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning")


# ---------------------------------------------------------------- clients
async def sse_client(
    port: int, path: str, headers: dict[str, str], out: list[float], counts: list[int], ready: Any
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
    writer.write(f"{request}{head}\r\n".encode())
    await writer.drain()
    status = await reader.readline()
    if b" 200 " not in status:
        raise RuntimeError(f"stream refused: {status!r}")
    ready()
    event, got = None, 0
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            text = line.decode().strip()
            if text.startswith("event:"):
                event = text[6:].strip()
            elif text.startswith("data:") and event == "tick":
                now = time.time()
                body = text[5:].strip()
                try:
                    data = json.loads(body)
                except ValueError:
                    # HTTP chunk boundaries are not split here: the servers send one event a chunk.
                    continue
                t = data.get("data", data).get("t")
                out.append((now - t) * 1000)
                got += 1
            elif text.startswith("data:") and event == "end":
                break
    finally:
        counts.append(got)
        writer.close()


async def run_clients(
    port: int, path: str, headers: dict[str, str], n: int, start: Any
) -> tuple[list[float], list[int]]:
    latencies: list[float] = []
    counts: list[int] = []
    connected = 0
    all_in = asyncio.Event()

    def ready() -> None:
        nonlocal connected
        connected += 1
        if connected >= n:
            all_in.set()

    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(sse_client(port, path, headers, latencies, counts, ready)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    await all_in.wait()
    await asyncio.sleep(1.0)
    await start()
    await asyncio.wait_for(asyncio.gather(*tasks), 600)
    return latencies, counts


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        # uvicorn waits for open streams on SIGTERM; the measurement is over, so do not wait.
        proc.kill()
        proc.wait(10)


def _wait_port(port: int, deadline: float = 120) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"server on {port} did not start")


def _summary(latencies: list[float], counts: list[int], clients: int, ticks: int) -> dict[str, Any]:
    ordered = sorted(latencies) or [float("nan")]
    return {
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(0.99 * (len(ordered) - 1)))],
        "lost": clients * ticks - sum(counts),
    }


def bench_reference(clients: int, ticks: int) -> dict[str, Any]:
    import httpx

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sse", "--serve-reference", str(port), "--ticks", str(ticks)]
    )
    try:
        _wait_port(port)

        async def start() -> None:
            async with httpx.AsyncClient(timeout=120) as c:
                await c.post(f"http://127.0.0.1:{port}/start")

        lat, counts = asyncio.run(run_clients(port, "/stream", {}, clients, start))
        return _summary(lat, counts, clients, ticks)
    finally:
        _stop(proc)


def bench_foredeck(clients: int, ticks: int) -> dict[str, Any]:
    import httpx

    port = _free_port()
    data = tempfile.mkdtemp(prefix="fd-bench-sse-")
    env = {
        **os.environ,
        "FOREDECK_DATA_DIR": data,
        "FOREDECK_RATE_LIMIT_ENABLED": "false",
        "FOREDECK_LOG_LEVEL": "WARNING",
        "FOREDECK_EMBEDDING_MODEL": os.environ.get("FOREDECK_BENCH_EMBEDDING_MODEL", "static-64"),
    }
    subprocess.run(
        [
            sys.executable,
            "-m",
            "foredeck.cli",
            "users",
            "create",
            "bench",
            "--role",
            "admin",
            "--password",
            PASSWORD,
            "--data-dir",
            data,
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.sse", "--serve-foredeck", str(port), "--ticks", str(ticks)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        _wait_port(port)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as c:
            token = c.post("/api/v1/auth/token", json={"username": "bench", "password": PASSWORD})
            auth = {"Authorization": f"Bearer {token.json()['data']['access_token']}"}
            c.post("/api/v1/queues/bench/pause", headers=auth).raise_for_status()
            job = c.post("/api/v1/jobs", json={"kind": "bench_tick"}, headers=auth)
            job_id = job.json()["data"]["job_id"]

        async def start() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=120) as c:
                (await c.post("/api/v1/queues/bench/resume", headers=auth)).raise_for_status()

        lat, counts = asyncio.run(
            run_clients(port, f"/api/v1/jobs/{job_id}/events", auth, clients, start)
        )
        return _summary(lat, counts, clients, ticks)
    finally:
        _stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=50)
    parser.add_argument("--serve-reference", type=int)
    parser.add_argument("--serve-foredeck", type=int)
    args, _ = parser.parse_known_args()
    if args.serve_reference:
        serve_reference(args.serve_reference, args.ticks)
        return
    if args.serve_foredeck:
        serve_foredeck(args.serve_foredeck, args.ticks)
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    ref = bench_reference(args.clients, args.ticks)
    ours = bench_foredeck(args.clients, args.ticks)
    print(
        f"sse, {args.clients} clients x {args.ticks} events every 100 ms:\n"
        f"  sse-starlette broadcast: p50 {ref['p50']:.0f} ms, p99 {ref['p99']:.0f} ms, "
        f"lost {ref['lost']}\n"
        f"  foredeck job stream:     p50 {ours['p50']:.0f} ms, p99 {ours['p99']:.0f} ms, "
        f"lost {ours['lost']}  (target p99 <= 250 ms, 0 lost; "
        f"p99 ratio {ours['p99'] / max(ref['p99'], 1e-9):.2f}x the reference)"
    )


if __name__ == "__main__":
    main()
