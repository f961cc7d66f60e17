"""`/metrics` in Prometheus format: jobs by status, queue depth, worker states, job durations."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from foredeck.models.jobs import JOB_STATUSES, Job, Worker
from foredeck.workers import service as workers_service

DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)


class Metrics:
    """One registry per app; gauges are read from the database at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.durations = Histogram(
            "foredeck_job_duration_seconds",
            "Duration of job attempts run by this process",
            ["kind", "status"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self._gauges: list[GaugeMetricFamily] = []
        self.registry.register(self)  # type: ignore[arg-type]

    def collect(self) -> Any:
        yield from self._gauges

    def observe(self, kind: str, status: str, seconds: float) -> None:
        self.durations.labels(kind=kind, status=status).observe(seconds)

    async def render(self, state: Any) -> bytes:
        async with state.sessionmaker() as session:
            by_status = dict(
                (await session.execute(select(Job.status, func.count()).group_by(Job.status))).all()
            )
            depth = (
                await session.execute(
                    select(Job.queue, func.count())
                    .where(Job.status == "queued")
                    .group_by(Job.queue)
                )
            ).all()
            workers = list((await session.execute(select(Worker))).scalars())
        jobs = GaugeMetricFamily("foredeck_jobs", "Jobs by status", labels=["status"])
        for status in JOB_STATUSES:
            jobs.add_metric([status], float(by_status.get(status, 0)))
        queue = GaugeMetricFamily("foredeck_queue_depth", "Queued jobs per queue", labels=["queue"])
        for name, n in depth:
            queue.add_metric([name], float(n))
        beat = state.job_settings.worker_heartbeat_seconds
        states: dict[str, int] = {}
        for w in workers:
            s = workers_service.effective_status(w, beat)
            states[s] = states.get(s, 0) + 1
        wg = GaugeMetricFamily("foredeck_workers", "Workers by status", labels=["status"])
        for s in ("running", "paused", "draining", "stopped", "stale"):
            wg.add_metric([s], float(states.get(s, 0)))
        self._gauges = [jobs, queue, wg]
        return generate_latest(self.registry)
