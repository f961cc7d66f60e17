"""Jobs: a filtered table with batch actions, and a job page with its live event log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from foredeck.auth.schemas import Role
from foredeck.console.web import (
    ConsoleRoute,
    done,
    is_htmx,
    page,
    parse_when,
    principal_of,
    publish_after,
    require,
)
from foredeck.errors import ValidationFailed
from foredeck.generator import service as generator_service
from foredeck.jobs import deletion, registry
from foredeck.jobs import listing as jobs_listing
from foredeck.jobs import service as jobs_service
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime
from foredeck.models.jobs import JOB_STATUSES, TERMINAL_STATUSES, Job

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PER_PAGE = 50
# Batch actions on "everything matching" touch at most this many jobs per click.
MAX_BATCH = 10_000
ALLOWED = {
    "pause": ("queued", "running"),
    "resume": ("paused",),
    "cancel": ("queued", "running", "paused"),
    "retry": ("failed", "cancelled"),
}
# Only jobs that ended can be deleted (the service refuses the others with a 409).
DELETABLE = TERMINAL_STATUSES
SORTS = jobs_listing.ORDERS
SORT_LABELS = {
    "-created": "newest first",
    "created": "oldest first",
    "-finished": "recently finished",
    "kind": "kind",
    "status": "status",
}
FILTER_KEYS = ("status", "kind", "queue", "worker", "created_after", "created_before", "q")


def parse_filters(params: Any) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """(service filters, errors, the raw values to refill the form) from a query or form."""
    errors: dict[str, str] = {}
    statuses = [s for s in params.getlist("status") if s]
    bad = [s for s in statuses if s not in JOB_STATUSES]
    if bad:
        errors["status"] = f"Unknown status {', '.join(bad)}"
    raw: dict[str, Any] = {
        "status": statuses,
        "kind": (params.get("kind") or "").strip(),
        "queue": (params.get("queue") or "").strip(),
        "worker": (params.get("worker") or "").strip(),
        "created_after": (params.get("created_after") or "").strip(),
        "created_before": (params.get("created_before") or "").strip(),
        "q": (params.get("q") or "").strip(),
    }
    filters: dict[str, Any] = {
        "status": [s for s in statuses if s in JOB_STATUSES] or None,
        "kind": [raw["kind"]] if raw["kind"] else None,
        "queue": [raw["queue"]] if raw["queue"] else None,
        "created_after": parse_when("created_after", raw["created_after"], errors),
        "created_before": parse_when("created_before", raw["created_before"], errors),
        "q": raw["q"] or None,
    }
    return filters, errors, raw


def _kinds_and_queues() -> tuple[list[str], list[str]]:
    specs = list(registry.HANDLERS.values())
    return sorted(s.kind for s in specs), sorted({s.queue for s in specs})


def _statement(jobs: Any, filters: dict[str, Any], worker: str) -> Any:
    return jobs.filtered_jobs(**filters, worker_id=worker or None)


def _query_string(raw: dict[str, Any], **extra: Any) -> str:
    pairs: list[tuple[str, str]] = [("status", s) for s in raw["status"]]
    pairs += [(k, v) for k, v in raw.items() if k != "status" and v]
    pairs += [(k, str(v)) for k, v in extra.items()]
    return urlencode(pairs)


async def _table_context(request: Request, session: Any) -> dict[str, Any]:
    jobs = jobs_service
    filters, errors, raw = parse_filters(request.query_params)
    try:
        page = max(1, min(int(request.query_params.get("page", "1")), 1_000_000))
    except ValueError:
        page = 1
    rows: list[Job] = []
    total, exact = 0, True
    sort = request.query_params.get("sort", "-created")
    if sort not in SORTS:
        errors["sort"] = "Unknown sort"
    if not errors:
        stmt = _statement(jobs, filters, raw["worker"])
        # Other orders than newest first are the console's own (the API has only that one).
        order = None if sort == "-created" else SORTS[sort]
        found = await jobs.list_jobs(
            session, stmt, offset=(page - 1) * PER_PAGE, limit=PER_PAGE, order=order
        )
        rows, total, exact = found.rows, found.total, found.exact
    # Suggestions come from the handler registry: a DISTINCT over a million jobs would not.
    kinds, queues = _kinds_and_queues()
    if sort != "-created":
        raw["sort"] = sort
    qs = _query_string(raw)
    return {
        "rows": rows,
        "total": total,
        # A capped total is a lower bound: the page count then says "N+" and Next stays.
        "exact": exact,
        "page_no": page,
        "pages": (total + PER_PAGE - 1) // PER_PAGE,
        "more": not exact and len(rows) == PER_PAGE,
        "errors": errors,
        "f": raw,
        "statuses": JOB_STATUSES,
        "kinds": kinds,
        "queues": queues,
        "filter_qs": qs,
        "base": f"/ui/jobs?{qs}&" if qs else "/ui/jobs?",
        "allowed": ALLOWED,
        "deleted": (request.query_params.get("deleted") or "")[:8],
        "sort": sort,
        "sorts": SORT_LABELS,
    }


@router.get("/ui/jobs")
async def jobs_page(request: Request, session: SessionDep) -> Response:
    """Jobs with filters kept in the URL, newest first, live."""
    table = await _table_context(request, session)
    status = 422 if table["errors"] else 200
    return page(
        request, "jobs.html", "jobs", status_code=status, title="Jobs", topics="jobs", **table
    )


@router.post("/ui/jobs/batch")
async def jobs_batch(request: Request, session: SessionDep) -> Response:
    """Cancel, retry or delete the selected jobs, or every job matching the filter."""
    require(request, Role.operator)
    jobs = jobs_service
    form = await request.form()
    action = str(form.get("action") or "")
    if action not in ("cancel", "retry", "delete", "pause", "resume"):  # the API's actions
        raise ValidationFailed.field("action", "Choose cancel, retry, delete, pause or resume")
    scope = str(form.get("scope") or "selected")
    if scope == "matching":
        filters, errors, raw = parse_filters(form)
        if errors:
            raise ValidationFailed(
                "The filter is not valid",
                details=[{"field": k, "message": v} for k, v in errors.items()],
            )
        stmt = _statement(jobs, filters, raw["worker"])
        ids = await jobs_listing.job_ids(session, stmt, limit=MAX_BATCH)
    else:
        ids = [str(v) for v in form.getlist("ids") if v]
    if not ids:
        raise ValidationFailed.field("ids", "Select at least one job")
    if action == "delete":
        ok, skipped = await deletion.delete_jobs(
            session, ids, data_dir=get_runtime(request).config.data_dir
        )
        message = f"Delete: {len(ok)} done"
        if skipped:
            message += f", {len(skipped)} skipped (only finished jobs can be deleted)"
    else:
        ok, skipped = await jobs.bulk_control(session, ids, action)
        message = f"{action.capitalize()}: {len(ok)} done"
        if skipped:
            message += f", {len(skipped)} skipped (not in a state that allows it)"
    response = done(request, message, back="/ui/jobs", **{"fd:jobs-changed": True})
    return publish_after(response, request, "jobs", {"kind": "batch", "action": action})


@router.get("/ui/jobs/count")
async def jobs_count(request: Request, session: SessionDep) -> Response:
    """How many jobs match a filter (for the batch confirmation)."""
    jobs = jobs_service
    filters, errors, raw = parse_filters(request.query_params)
    if errors:
        raise ValidationFailed("The filter is not valid")
    stmt = _statement(jobs, filters, raw["worker"])
    total, _exact = await jobs.count_jobs(session, stmt, cap=MAX_BATCH)
    return Response(str(min(total, MAX_BATCH)), media_type="text/plain")


def _traceback_summary(text: str | None) -> str | None:
    if not text:
        return None
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-6:])


async def _job_context(request: Request, session: Any, job_id: str) -> dict[str, Any]:
    jobs = jobs_service
    job = await jobs.get_job(session, job_id)
    await session.refresh(job)
    runs = await jobs.list_runs(session, job_id)
    events = await jobs.list_events(session, job_id, limit=500)
    percent = job.progress_percent
    if percent is None and job.progress_total:
        percent = 100.0 * job.progress_done / job.progress_total
    chunks = None
    if job.kind == "generate":
        chunks = (await generator_service.list_chunks(session, job_id)).chunks
    return {
        "job": job,
        "runs": runs,
        "events": events,
        "percent": percent,
        "controls": [a for a, states in ALLOWED.items() if job.status in states],
        "deletable": job.status in DELETABLE,
        "traceback": _traceback_summary(job.error_traceback),
        "chunks": chunks,
    }


@router.get("/ui/jobs/{job_id}")
async def job_page(request: Request, session: SessionDep, job_id: str) -> Response:
    """One job: params, progress, runs, error, controls and the live event log."""
    context = await _job_context(request, session, job_id)
    return page(
        request, "job.html", "jobs", title=f"Job {job_id[:8]}", topics=f"job:{job_id}", **context
    )


@router.post("/ui/jobs/{job_id}/delete")
async def job_delete(request: Request, session: SessionDep, job_id: str) -> Response:
    """Delete one finished job, then go back to the list (409 while it is active)."""
    require(request, Role.operator)
    await deletion.delete_job(session, job_id, data_dir=get_runtime(request).config.data_dir)
    target = f"/ui/jobs?deleted={job_id[:8]}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/ui/jobs/{job_id}/{action}")
async def job_action(request: Request, session: SessionDep, job_id: str, action: str) -> Response:
    """Pause, resume, cancel or retry one job."""
    require(request, Role.operator)
    jobs = jobs_service
    job = await jobs.control_job(session, job_id, action)
    who = principal_of(request)
    message = f"Job {job_id[:8]}: {action} requested ({job.status})"
    response = done(request, message, back=f"/ui/jobs/{job_id}")
    return publish_after(
        response,
        request,
        f"job:{job_id}",
        {"kind": "status", "status": job.status, "by": who.username if who else None},
        also=("jobs",),
    )
