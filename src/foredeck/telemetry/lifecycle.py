"""Telemetry start-up: the publisher, the SSE fan-out and the metrics registry."""

from __future__ import annotations

from fastapi import FastAPI

from foredeck.kit.sse import TopicBatcher
from foredeck.telemetry.metrics import Metrics
from foredeck.telemetry.publisher import TelemetryPublisher

STREAM_TOPICS = ("telemetry", "workers", "jobs")


async def startup(app: FastAPI) -> None:
    state = app.state
    if getattr(state, "metrics", None) is None:
        state.metrics = Metrics()
    state.telemetry_batcher = TopicBatcher(state.pubsub, STREAM_TOPICS)
    state.telemetry = TelemetryPublisher(state)
    # A `foredeck worker` serves no SSE clients: batching every job event for none of them
    # was a tenth of its event loop.
    if not getattr(state, "worker_process", False):
        state.telemetry_batcher.start()
        await state.telemetry.start()
    state.features.update({"telemetry", "sse", "metrics"})


async def shutdown(app: FastAPI) -> None:
    state = app.state
    await state.telemetry.stop()
    await state.telemetry_batcher.stop()
