"""What the Import and Export pages share: status, lock, banners, the live progress block,
the page context and the answers to a start (refused with the form's errors, or started)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.console.web import is_htmx, page, publish_after, toast_headers, trigger_headers
from foredeck.jobs import controls as job_controls
from foredeck.jobs import service as jobs_service
from foredeck.kit.runtime import get_runtime
from foredeck.models.base import utcnow
from foredeck.operations import service as operations_service
from foredeck.settings import service as settings_service


def _aware(value: Any) -> Any:
    if value is not None and value.tzinfo is None:
        from datetime import UTC

        return value.replace(tzinfo=UTC)
    return value


def progress_view(job: Any) -> dict[str, Any]:
    """Percent, counters, rate and ETA of a running or finished operation job."""
    done = int(job.progress_done or 0)
    total = job.progress_total
    percent = job.progress_percent
    if percent is None and total:
        percent = 100.0 * done / total
    rate = eta = None
    started = _aware(job.started_at)
    if started is not None:
        end = _aware(job.finished_at) or utcnow()
        elapsed = max((end - started).total_seconds(), 1e-6)
        rate = done / elapsed
        if total and rate > 0 and job.finished_at is None:
            eta = max(total - done, 0) / rate
    return {"done": done, "total": total, "percent": percent, "rate": rate, "eta": eta}


async def row_errors(session: AsyncSession, job_id: str, limit: int = 50) -> list[Any]:
    events = await jobs_service.list_events(session, job_id, limit=2000)
    return [e for e in events if e.level in ("warning", "error") and e.kind != "status"][-limit:]


async def settings_banners(request: Request, session: AsyncSession) -> list[dict[str, str]]:
    """Why a Google Sheets operation cannot run right now, with the setting that fixes it."""
    settings = settings_service
    config = get_runtime(request).config
    banners = []
    credentials = await settings.section_state(session, "credentials", config=config)
    sheets = await settings.section_state(session, "sheets", config=config)
    if not credentials.value.get("path"):
        banners.append(
            {
                "text": "Google Sheets is not set up: no service-account key file is configured.",
                "section": "credentials",
            }
        )
    elif not credentials.valid:
        reason = "; ".join(e.message for e in credentials.errors) or "it did not validate"
        banners.append(
            {"text": f"The Google credentials are not valid: {reason}.", "section": "credentials"}
        )
    if not sheets.value.get("sheets"):
        banners.append({"text": "No Google Sheet is configured.", "section": "sheets"})
    elif not sheets.valid:
        reason = "; ".join(e.message for e in sheets.errors) or "it did not validate"
        banners.append(
            {"text": f"The sheet settings are not valid: {reason}.", "section": "sheets"}
        )
    return banners


async def operation_context(
    request: Request, session: AsyncSession, operation: str
) -> dict[str, Any]:
    """Status, lock, the watched job with its progress, and paused worker queues."""
    status = await operations_service.operation_status(session, operation)
    job = None
    progress = None
    errors: list[Any] = []
    watch = request.query_params.get("job") or (status.latest.job_id if status.latest else None)
    if watch:
        from foredeck.errors import NotFound

        try:
            job = await jobs_service.get_job(session, watch)
            await session.refresh(job)
        except NotFound:
            job = None
        if job is not None and job.kind not in status.kinds:
            job = None
        if job is not None:
            progress = progress_view(job)
            errors = await row_errors(session, job.id)
    controls = await job_controls.active_controls(session)
    queue_pauses = job_controls.queue_pauses(controls)
    draining = "drain" in controls
    return {
        "status": status,
        "job": job,
        "progress": progress,
        "row_errors": errors,
        "queue_pauses": queue_pauses,
        "draining": draining,
    }


async def page_context(
    request: Request,
    session: AsyncSession,
    operation: str,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    **extra: Any,
) -> dict[str, Any]:
    """What the Import or Export page shows: the live part, banners and the form."""
    context = await operation_context(request, session, operation)
    context.update(
        title=operation.capitalize(),
        topics="jobs,workers,operations,settings",
        banners=await settings_banners(request, session),
        v=values,
        errors=errors,
        **extra,
    )
    return context


def refused(request: Request, operation: str, context: dict[str, Any]) -> Response:
    """The form again with its errors next to the fields (422); nothing was started."""
    headers = toast_headers(f"The {operation} was not started: see the form", "error")
    block = f"{operation}_form" if is_htmx(request) else None
    template = f"{operation}.html"
    return page(
        request, template, operation, block=block, status_code=422, headers=headers, **context
    )


async def started(
    request: Request,
    operation: str,
    job: Any,
    context: Callable[[], Awaitable[dict[str, Any]]],
) -> Response:
    """A redirect to the watched job without JavaScript; for htmx the form and a toast."""
    if not is_htmx(request):
        return RedirectResponse(f"/ui/{operation}?job={job.id}", status_code=303)
    headers = trigger_headers(
        f"{operation.capitalize()} started (job {job.id[:8]})",
        {f"fd:{operation}-started": {"job": job.id}},
    )
    response = page(
        request,
        f"{operation}.html",
        operation,
        block=f"{operation}_form",
        headers=headers,
        **await context(),
    )
    return publish_after(response, request, "operations", {"kind": operation, "job_id": job.id})
