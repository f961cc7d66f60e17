"""Overview: one card per area, each refreshed live."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from foredeck.console import data
from foredeck.console.web import ConsoleRoute, page
from foredeck.kit.deps import SessionDep
from foredeck.records import service as records_service

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/ui/")
async def overview(request: Request, session: SessionDep) -> Response:
    """Records, index, workers, queue and the last operations at a glance."""
    return page(
        request,
        "overview.html",
        "overview",
        title="Overview",
        topics="jobs,workers,telemetry,index,operations",
        records=await records_service.counts_by_state(session),
        index=await data.index_stats(request, session),
        workers=await data.worker_summary(request, session),
        queue=await data.queue_summary(request, session),
        last_runs={kind: await data.last_job(session, kind) for kind in data.OPERATION_KINDS},
    )
