"""Telemetry start-up: the publisher, the SSE fan-out and the metrics registry."""

from __future__ import annotations

from foredeck.kit.runtime import Runtime
from foredeck.kit.sse import TopicBatcher
from foredeck.telemetry.metrics import Metrics
from foredeck.telemetry.parts import METRICS, TELEMETRY, TELEMETRY_BATCHER
from foredeck.telemetry.publisher import TelemetryPublisher
from foredeck.workers.parts import JOB_OBSERVER

STREAM_TOPICS = ("telemetry", "workers", "jobs")


async def startup(runtime: Runtime) -> None:
    metrics = runtime.get(METRICS)
    if metrics is None:
        metrics = runtime[METRICS] = Metrics()
    runtime[JOB_OBSERVER] = metrics.observe
    batcher = runtime[TELEMETRY_BATCHER] = TopicBatcher(runtime.pubsub, STREAM_TOPICS)
    runtime[TELEMETRY] = TelemetryPublisher(runtime)
    # A `foredeck worker` serves no SSE clients: batching every job event for none of them
    # was a tenth of its event loop.
    if not runtime.worker_process:
        batcher.start()
        await runtime[TELEMETRY].start()
    runtime.features.update({"telemetry", "sse", "metrics"})


async def shutdown(runtime: Runtime) -> None:
    await runtime[TELEMETRY].stop()
    await runtime[TELEMETRY_BATCHER].stop()
