"""bench.jobs: the job engine's own overhead.

- Embedded executor (SQLite, in-process pool): no-op jobs/s end to end and enqueue->start
  latency p50/p99 (targets >= 2,000 jobs/s, p50 <= 10 ms).
- Celery mode (PostgreSQL + Redis + a `foredeck worker` subprocess) against a plain Celery
  task on the same Redis with the same pool, in the same run (target >= 0.8x). foredeck's
  worker keeps broker acks in memory (`ack_emulation` off: the database is the record of its
  jobs); a plain task run that way too, which would lose its tasks in a crash, is printed
  beside it for comparison.

- `--list`: `GET /api/v1/jobs` and the console's jobs page per filter at 1,000,000 jobs on
  SQLite and PostgreSQL (bench/_jobs_list.py).

Run: .venv/bin/python -m bench.jobs [--full] [--skip-celery] [--list [--skip-pg] [--jobs N]]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

PG_URL = os.environ.get(
    "FOREDECK_BENCH_DATABASE_URL",
    "postgresql+asyncpg://postgres@127.0.0.1:5432/foredeck_bench_jobs",
)
REDIS_URL = os.environ.get("FOREDECK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def _state(config: Any) -> Any:
    # Every job kind registered, as in a server.
    from foredeck import kinds as _kinds  # noqa: F401
    from foredeck import migrate
    from foredeck.db import make_engine
    from foredeck.jobs.settings import JOB_SETTINGS, JobSettings
    from foredeck.kit.pubsub import LocalPubSub
    from foredeck.kit.runtime import Runtime
    from foredeck.settings.service import worker_slots
    from foredeck.workers.parts import WORKER_SLOTS

    await asyncio.to_thread(migrate.upgrade, config)
    runtime = Runtime(config, engine=make_engine(config))
    runtime.pubsub = LocalPubSub()
    runtime[JOB_SETTINGS] = JobSettings(job_progress_seconds=0.25)
    # As the settings domain hands it in at start-up: the executor reads its slots with it.
    runtime[WORKER_SLOTS] = worker_slots
    return runtime


async def _create(state: Any, n: int, batch: int = 500) -> list[str]:
    from foredeck.db import transaction
    from foredeck.jobs import service as jobs_service

    ids: list[str] = []
    for start in range(0, n, batch):
        async with transaction(state.sessionmaker) as session:
            for _ in range(min(batch, n - start)):
                ids.append((await jobs_service.create_job(session, kind="noop")).id)
    return ids


async def _wait_done(state: Any, ids: list[str], deadline: float = 600) -> None:
    """Until no job of the run's fresh database is left to run (one indexed count a poll).

    Cheap on purpose: the poll shares the machine with the workers it measures, as the plain
    Celery run's poll of one Redis counter does.
    """
    from foredeck.models.jobs import Job

    unfinished = select(func.count()).select_from(Job).where(Job.status.in_(("queued", "running")))
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        async with state.sessionmaker() as session:
            if not (await session.execute(unfinished)).scalar_one():
                return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"{len(ids)} jobs did not finish")


async def embedded(n_jobs: int, n_latency: int, concurrency: int) -> dict[str, float]:
    from foredeck.config import Config
    from foredeck.db import transaction
    from foredeck.jobs import service as jobs_service
    from foredeck.models.jobs import Job
    from foredeck.workers.embedded import EmbeddedExecutor

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(data_dir=Path(tmp), database_url=None, workers=concurrency)
        state = await _state(config)
        executor = EmbeddedExecutor(state, concurrency=concurrency, worker_id="bench@embedded")
        # Throughput: a backlog created while the pool is paused, then drained.
        await executor.start()
        from foredeck.jobs import controls as job_controls
        from foredeck.workers import service as workers_service

        async with transaction(state.sessionmaker) as session:
            await job_controls.pause_all(session)
        t0 = time.perf_counter()
        ids = await _create(state, n_jobs)
        enqueue_s = time.perf_counter() - t0
        async with transaction(state.sessionmaker) as session:
            await workers_service.resume_all(session)
        executor.wake()
        t0 = time.perf_counter()
        await _wait_done(state, ids)
        run_s = time.perf_counter() - t0
        # Latency: one job at a time into an idle pool, created -> started.
        lat_ids = []
        for _ in range(n_latency):
            async with transaction(state.sessionmaker) as session:
                job = await jobs_service.create_job(session, kind="noop")
                lat_ids.append(job.id)
            await asyncio.sleep(0.01)
        await _wait_done(state, lat_ids)
        async with state.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Job.created_at, Job.started_at).where(Job.id.in_(lat_ids))
                )
            ).all()
        lat = [(s - c).total_seconds() * 1000 for c, s in rows]
        await executor.stop()
        await state.engine.dispose()
    return {
        "jobs": n_jobs,
        "enqueue_per_s": n_jobs / enqueue_s,
        "jobs_per_s": n_jobs / run_s,
        "latency_p50_ms": statistics.median(lat),
        "latency_p99_ms": _pct(lat, 99),
    }


PLAIN_WORKER = """
import sys
from celery import Celery
import redis
app = Celery("plainbench", broker=sys.argv[1])
app.conf.update(
    task_ignore_result=True, worker_prefetch_multiplier=8, worker_hijack_root_logger=False,
    broker_transport_options={"ack_emulation": sys.argv[3] == "1"},
)
counter = redis.Redis.from_url(sys.argv[1])

@app.task(name="plainbench.noop")
def noop(i):
    counter.incr("plainbench:done")

if __name__ == "__main__":
    app.Worker(hostname="plain@bench", queues=["plainbench"], concurrency=int(sys.argv[2]),
               pool="threads", loglevel="WARNING", without_gossip=True, without_mingle=True).start()
"""


def plain_celery(n: int, concurrency: int, *, ack_emulation: bool = True) -> float:
    """Jobs/s of a do-nothing Celery task (send all, wait until all ran)."""
    import redis
    from celery import Celery

    r = redis.Redis.from_url(REDIS_URL)
    r.flushdb()
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(PLAIN_WORKER)
    proc = subprocess.Popen(
        [sys.executable, f.name, REDIS_URL, str(concurrency), "1" if ack_emulation else "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        app = Celery("plainbench", broker=REDIS_URL)
        app.conf.task_ignore_result = True
        # Warm up: wait until the worker answers.
        app.send_task("plainbench.noop", args=[0], queue="plainbench")
        while int(r.get("plainbench:done") or 0) < 1:
            time.sleep(0.05)
        r.set("plainbench:done", 0)
        t0 = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for i in range(n):
                app.send_task("plainbench.noop", args=[i], queue="plainbench", producer=producer)
        while int(r.get("plainbench:done") or 0) < n:
            time.sleep(0.01)
        return n / (time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(30)
        r.close()
        os.unlink(f.name)


def _send_each(client: Any, ids: list[str]) -> None:
    """A message per job, sent as the plain run sends its tasks (one producer, one loop)."""
    from foredeck.workers import celery_app as fc

    with client.producer_or_acquire() as producer:
        for job_id in ids:
            client.send_task(fc.TASK_NAME, args=[[job_id]], queue="default", producer=producer)


async def celery_foredeck(n: int, concurrency: int, *, one_per_message: bool = False) -> float:
    """Jobs/s of foredeck no-op jobs on `foredeck worker` (PostgreSQL state, Redis broker).

    The backlog goes out as the API sends jobs that commit together (up to MESSAGE_JOBS ids a
    message); with one_per_message every job is its own message, as when jobs arrive one by
    one with time between them.
    """
    import redis
    from tests.conftest import _recreate_postgres

    from foredeck.config import Config
    from foredeck.models.jobs import Worker
    from foredeck.workers import celery_app as fc

    await _recreate_postgres(PG_URL)
    redis.Redis.from_url(REDIS_URL).flushdb()
    tmp = tempfile.mkdtemp()
    config = Config(data_dir=Path(tmp), database_url=PG_URL, redis_url=REDIS_URL)
    state = await _state(config)
    env = {
        **os.environ,
        "FOREDECK_DATA_DIR": tmp,
        "FOREDECK_DATABASE_URL": PG_URL,
        "FOREDECK_REDIS_URL": REDIS_URL,
        "FOREDECK_LOG_LEVEL": "WARNING",
        # The worker loads its embedding model at start; MiniLM (torch) takes tens of seconds
        # of CPU, which would land inside the timed window. No-op jobs need no model.
        "FOREDECK_EMBEDDING_MODEL": "static-64",
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before anything is timed
        [
            sys.executable,
            "-m",
            "foredeck.cli",
            "worker",
            "-n",
            "bench@celery",
            "-c",
            str(concurrency),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        fc.configure(REDIS_URL)
        while True:
            async with state.sessionmaker() as session:
                if await session.get(Worker, "bench@celery") is not None:
                    break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        # Warm up as the plain worker is warmed up: one job through, end to end.
        client = fc.client_for(REDIS_URL)
        warm = await _create(state, 1)
        await asyncio.to_thread(fc.send, [(warm[0], "default", 0.0)], client)
        await _wait_done(state, warm)
        ids = await _create(state, n)
        t0 = time.perf_counter()
        if one_per_message:
            await asyncio.to_thread(_send_each, client, ids)
        else:
            await asyncio.to_thread(fc.send, [(i, "default", 0.0) for i in ids], client)
        await _wait_done(state, ids)
        return n / (time.perf_counter() - t0)
    finally:
        proc.terminate()
        proc.wait(60)
        await state.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="20,000 jobs instead of 3,000")
    parser.add_argument("--skip-celery", action="store_true")
    parser.add_argument("--list", action="store_true", help="the listing benchmark instead")
    parser.add_argument(
        "--slots", type=int, nargs="*", default=[8, 64], help="embedded pool sizes to measure"
    )
    args, _ = parser.parse_known_args()
    if args.list:
        from bench import _jobs_list

        _jobs_list.main()
        return
    n = 20_000 if args.full else 3_000
    from foredeck.logging import configure_logging

    configure_logging("console", "WARNING")
    for slots in args.slots:
        emb = asyncio.run(embedded(n, 200, concurrency=slots))
        print(
            f"embedded (SQLite, {slots} slots): {emb['jobs_per_s']:.0f} no-op jobs/s end to end "
            f"(target 2000: {emb['jobs_per_s'] / 2000:.2f}x), "
            f"enqueue {emb['enqueue_per_s']:.0f}/s, enqueue->start p50 "
            f"{emb['latency_p50_ms']:.1f} ms, p99 {emb['latency_p99_ms']:.1f} ms"
        )
    if args.skip_celery:
        return
    m = 2_000 if not args.full else 10_000
    # The same pool for both; 16 threads because a job waits on the database most of its time.
    plain = plain_celery(m, concurrency=16)
    ours = asyncio.run(celery_foredeck(m, concurrency=16))
    single = asyncio.run(celery_foredeck(m, concurrency=16, one_per_message=True))
    unacked = plain_celery(m, concurrency=16, ack_emulation=False)
    print(
        f"celery (Redis, threads x16): plain task {plain:.0f}/s, foredeck job {ours:.0f}/s "
        f"(PostgreSQL state) -> ratio {ours / plain:.2f}x (target 0.8x); "
        f"one message per job {single:.0f}/s -> {single / plain:.2f}x; "
        f"plain task with ack emulation off {unacked:.0f}/s "
        f"(backlog {ours / unacked:.2f}x, one per message {single / unacked:.2f}x)"
    )


if __name__ == "__main__":
    main()
