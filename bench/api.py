"""GET /api/v1/memories/{id} under uvicorn against a bare FastAPI endpoint returning the same JSON.

Both servers run as one uvicorn process with one worker on this machine; the load generator
keeps 32 keep-alive connections busy. Target: foredeck >= 0.5x the bare endpoint.

Two ratios are printed. Throughput: requests/s of each, alternated. Capacity: the server
process's own CPU time per request (all threads, from /proc), inverted. A one-process server
can serve at most 1 / (CPU per request) requests/s; on two shared cores the load generator,
itself Python, often cannot keep the faster server busy and other processes take turns on
either core, so the throughput ratio moves ±30 % between runs while CPU per request holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
from pathlib import Path

import httpx

from bench._http import PYTHON, cpu_seconds, free_port, load, run_server


async def _prepare(data_dir: Path) -> tuple[str, int]:
    from foredeck import migrate
    from foredeck.auth import service as auth_service
    from foredeck.auth.schemas import Role
    from foredeck.config import Config
    from foredeck.db import make_engine, make_sessionmaker, transaction
    from foredeck.records import service as records_service

    config = Config(data_dir=data_dir)
    await asyncio.to_thread(migrate.upgrade, config)
    engine = make_engine(config)
    async with transaction(make_sessionmaker(engine)) as session:
        user = await auth_service.create_user(
            session, username="bench", password="bench-password", role=Role.viewer
        )
        _, secret = await auth_service.create_api_key(session, user_id=user.id, name="bench")
        memory = await records_service.create_memory(
            session, content="A record to read back " * 8, metadata={"source": "bench"}
        )
    await engine.dispose()
    return secret, memory.id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="servers on CPU 0, the load generator on CPU 1 (on two cores they otherwise "
        "compete for the same CPU, so the ratio moves with the load generator's share)",
    )
    args = parser.parse_args(argv or [])
    pin = ["taskset", "-c", "0"] if args.pin else []
    if args.pin:
        os.sched_setaffinity(0, {1})

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        secret, memory_id = asyncio.run(_prepare(data_dir))
        headers = {"Authorization": f"Bearer {secret}"}
        path = f"/api/v1/memories/{memory_id}"
        fd_port, bare_port = free_port(), free_port()
        env = {
            "FOREDECK_DATA_DIR": str(data_dir),
            "FOREDECK_RATE_LIMIT_DEFAULT": "100000000/minute",
            "FOREDECK_LOG_LEVEL": "WARNING",
            "FOREDECK_WORKERS": "0",
            **json.loads(os.environ.get("BENCH_API_ENV", "{}")),
        }
        fd_cmd = [*pin, PYTHON, "-m", "foredeck.cli", "serve", "--port", str(fd_port)]
        with run_server(fd_cmd, fd_port, env) as fd_proc:
            body = httpx.get(f"http://127.0.0.1:{fd_port}{path}", headers=headers).json()
            assert body["data"]["id"] == memory_id, body
            bare_cmd = [
                *pin,
                PYTHON,
                "-m",
                "uvicorn",
                "bench._bare_app:app",
                "--port",
                str(bare_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
            bare_env = {"BENCH_BODY": json.dumps(body)}
            with run_server(bare_cmd, bare_port, bare_env) as bare_proc:
                load(bare_port, path, {}, 1.0, 4)  # warm up both
                load(fd_port, path, headers, 1.0, 4)
                ratios, cpu_ratios, fd_runs, bare_runs = [], [], [], []
                fd_cpu, bare_cpu = [], []
                for _ in range(args.rounds):
                    before = cpu_seconds(bare_proc.pid)
                    bare = load(bare_port, path, {}, args.seconds, args.connections)
                    bare_cpu.append((cpu_seconds(bare_proc.pid) - before) / bare.requests)
                    before = cpu_seconds(fd_proc.pid)
                    fd = load(fd_port, path, headers, args.seconds, args.connections)
                    fd_cpu.append((cpu_seconds(fd_proc.pid) - before) / fd.requests)
                    assert fd.errors == 0 and bare.errors == 0, (fd.errors, bare.errors)
                    bare_runs.append(bare)
                    fd_runs.append(fd)
                    ratios.append(fd.rps / bare.rps)
                    cpu_ratios.append(bare_cpu[-1] / fd_cpu[-1])
    fd_rps = statistics.median(r.rps for r in fd_runs)
    bare_rps = statistics.median(r.rps for r in bare_runs)
    bare_p50 = statistics.median(r.p50_ms for r in bare_runs)
    fd_p50 = statistics.median(r.p50_ms for r in fd_runs)
    fd_p99 = statistics.median(r.p99_ms for r in fd_runs)
    print(f"bare FastAPI:   {bare_rps:8.0f} req/s  p50 {bare_p50:.1f} ms")
    print(f"foredeck GET:   {fd_rps:8.0f} req/s  p50 {fd_p50:.1f} ms  p99 {fd_p99:.1f} ms")
    print(
        f"server CPU per request: bare {statistics.median(bare_cpu) * 1e6:.0f} us, "
        f"foredeck {statistics.median(fd_cpu) * 1e6:.0f} us"
    )
    print(f"throughput ratio foredeck/bare: {statistics.median(ratios):.2f}x (target >= 0.5x)")
    print(
        f"capacity ratio foredeck/bare (CPU per request): {statistics.median(cpu_ratios):.2f}x "
        f"(rounds: {', '.join(f'{r:.2f}' for r in cpu_ratios)})"
    )


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
