"""Telemetry: snapshot, history for charts, live streams (SSE) and `/metrics`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from foredeck.auth.deps import Viewer
from foredeck.errors import ValidationFailed
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.envelope import Envelope, ok
from foredeck.kit.runtime import RuntimeDep
from foredeck.kit.sse import SSE_RESPONSES, last_event_id, sse_event, sse_response
from foredeck.telemetry import retention
from foredeck.telemetry import service as telemetry_service
from foredeck.telemetry.parts import METRICS, TELEMETRY, TELEMETRY_BATCHER

router = APIRouter(tags=["telemetry"])
STREAM_TOPICS = ("telemetry", "workers", "jobs")


@router.get("/api/v1/telemetry/snapshot", response_model=Envelope[dict[str, Any]])
async def snapshot(runtime: RuntimeDep, _: Viewer) -> Any:
    """Queue depth per queue, worker states, running job progress; never older than the interval."""
    publisher = runtime[TELEMETRY]
    snap = await publisher.current()
    return ok(snap, meta={"interval_seconds": publisher.interval})


@router.get("/api/v1/telemetry/history", response_model=Envelope[dict[str, Any]])
async def history(
    runtime: RuntimeDep,
    _: Viewer,
    window: Annotated[str | None, Query(description="e.g. 3600, 15m, 6h, 1d")] = None,
    step: Annotated[str | None, Query(description="e.g. 5, 30s, 1m")] = None,
) -> Any:
    """Time series of queue depth, running jobs and worker states for charts."""
    seconds = telemetry_service.parse_duration(window, "window", 3600)
    async with runtime.sessionmaker() as session:
        # Older samples are gone: the operator's retention setting, else the server default.
        hours = await retention.retention_hours(
            session, default=runtime[JOB_SETTINGS].telemetry_retention_hours
        )
        if seconds > hours * 3600:
            raise ValidationFailed.field("window", f"window may be at most {int(hours * 3600)} s")
        step_s = telemetry_service.parse_duration(step, "step", max(seconds / 120, 1.0))
        data = await telemetry_service.history(session, window=seconds, step=step_s)
    return ok(data)


@router.get("/api/v1/telemetry/stream", response_class=EventSourceResponse, responses=SSE_RESPONSES)
async def stream(
    request: Request,
    runtime: RuntimeDep,
    _: Viewer,
    topics: Annotated[
        str | None, Query(description="Comma-separated: telemetry,workers,jobs")
    ] = None,
) -> Any:
    """Live telemetry, worker and job events over SSE, batched per topic; resumable."""
    chosen = {t.strip() for t in (topics or ",".join(STREAM_TOPICS)).split(",") if t.strip()}
    unknown = chosen - set(STREAM_TOPICS)
    if unknown or not chosen:
        raise ValidationFailed.field("topics", f"Topics are {', '.join(STREAM_TOPICS)}")
    batcher = runtime[TELEMETRY_BATCHER]
    settings = runtime[JOB_SETTINGS]
    resume = last_event_id(request)

    async def events() -> AsyncIterator[ServerSentEvent]:
        if resume is None and "telemetry" in chosen:
            # A new client sees the current state at once, not after the next tick.
            yield sse_event(await runtime[TELEMETRY].current(), event="snapshot")
        async for ev in batcher.stream(chosen, resume, seconds=settings.sse_max_seconds):
            yield ev

    return sse_response(events(), ping_seconds=settings.sse_ping_seconds)


@router.get(
    "/metrics",
    include_in_schema=True,
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(runtime: RuntimeDep) -> Response:
    """Prometheus metrics: jobs by status, queue depth, worker states, job durations."""
    body = await runtime[METRICS].render(runtime)
    return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
