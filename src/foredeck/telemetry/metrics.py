"""`/metrics` in Prometheus format: HTTP traffic, SSE clients, rate limiting, jobs, queues,
workers, embeddings and the index, plus the process and platform collectors.

A scrape reads the telemetry snapshot (taken at most once per telemetry interval, over
active jobs only), never a count over the whole jobs table: scrapers come every few seconds
and the jobs table only grows between retention sweeps."""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from foredeck.index.parts import INDEX_MANAGER
from foredeck.kit.runtime import Runtime
from foredeck.models.index import IndexState
from foredeck.models.jobs import ACTIVE_STATUSES
from foredeck.telemetry.parts import TELEMETRY

DURATION_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
WORKER_STATES = ("running", "paused", "draining", "stopped", "stale")


class Metrics:
    """One registry per app: counters kept by this process, gauges read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.durations = Histogram(
            "foredeck_job_duration_seconds",
            "Duration of job attempts run by this process",
            ["kind", "status"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "foredeck_http_requests",
            "HTTP requests served by this process, by route template",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_seconds = Histogram(
            "foredeck_http_request_duration_seconds",
            "Time from request to the end of the response, by route template",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.sse_clients = Gauge(
            "foredeck_sse_clients",
            "Server-sent event streams open on this process",
            registry=self.registry,
        )
        self.rate_limited_requests = Counter(
            "foredeck_rate_limited_requests",
            "Requests answered 429 by the rate limiter",
            registry=self.registry,
        )
        self._http_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._gauges: list[GaugeMetricFamily] = []
        self.registry.register(self)  # type: ignore[arg-type]

    def collect(self) -> Any:
        yield from self._gauges

    def observe(self, kind: str, status: str, seconds: float) -> None:
        self.durations.labels(kind=kind, status=status).observe(seconds)

    # --- kit.access.HttpObserver ---

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None:
        # The children by label set, cached: labels() costs more than the counting itself.
        key = (method, route, status)
        pair = self._http_children.get(key)
        if pair is None:
            code = str(status)
            pair = (
                self.http_requests.labels(method, route, code),
                self.http_seconds.labels(method, route, code),
            )
            self._http_children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def sse_opened(self) -> None:
        self.sse_clients.inc()

    def sse_closed(self) -> None:
        self.sse_clients.dec()

    def rate_limited(self) -> None:
        self.rate_limited_requests.inc()

    async def render(self, runtime: Runtime) -> bytes:
        snap = await runtime[TELEMETRY].current()
        self._gauges = [*_job_gauges(snap), *await _index_gauges(runtime)]
        return generate_latest(self.registry)


def _job_gauges(snap: dict[str, Any]) -> list[GaugeMetricFamily]:
    queues: dict[str, dict[str, int]] = snap["queues"]
    jobs = GaugeMetricFamily("foredeck_jobs", "Active jobs by status", labels=["status"])
    for status in ACTIVE_STATUSES:
        jobs.add_metric([status], float(sum(q.get(status, 0) for q in queues.values())))
    depth = GaugeMetricFamily("foredeck_queue_depth", "Queued jobs per queue", labels=["queue"])
    for name, counts in sorted(queues.items()):
        depth.add_metric([name], float(counts.get("queued", 0)))
    failed = GaugeMetricFamily(
        "foredeck_jobs_failed_last_hour", "Jobs failed in the last hour", labels=["queue"]
    )
    for name, n in sorted(snap["failed_last_hour"].items()):
        failed.add_metric([name], float(n))
    workers = GaugeMetricFamily("foredeck_workers", "Workers by status", labels=["status"])
    for status in WORKER_STATES:
        workers.add_metric([status], float(snap["workers"].get(status, 0)))
    pending = GaugeMetricFamily(
        "foredeck_pending_embeddings", "Records waiting for their embedding"
    )
    pending.add_metric([], float(snap["pending_embeddings"]))
    return [jobs, depth, failed, workers, pending]


async def _index_gauges(runtime: Runtime) -> list[GaugeMetricFamily]:
    manager = runtime.get(INDEX_MANAGER)
    if manager is None:
        return []
    from foredeck.index.manager import NAME

    vectors = GaugeMetricFamily("foredeck_index_vectors", "Vectors in the live index")
    vectors.add_metric([], float(manager.vindex.count))
    async with runtime.sessionmaker() as session:
        # A plain read: the row is created by the index's own start-up, never by a scrape.
        row = await session.get(IndexState, NAME)
        last = row.last_rebuild_at if row is not None else None
    rebuilt = GaugeMetricFamily(
        "foredeck_index_last_rebuild_timestamp_seconds",
        "When the index was last rebuilt in full (Unix time; 0 if never)",
    )
    rebuilt.add_metric([], last.timestamp() if last is not None else 0.0)
    return [vectors, rebuilt]
