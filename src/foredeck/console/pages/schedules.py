"""Schedules: the list with next fire times and last outcomes, a schedule's runs, and the
create/edit form, checked by the same service as the API (errors come back per field)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from foredeck.auth.schemas import Role
from foredeck.console.web import (
    ConsoleRoute,
    done,
    page,
    require,
    toast_headers,
    trigger_headers,
)
from foredeck.errors import ValidationFailed
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime
from foredeck.schedules import service
from foredeck.schedules.schemas import ScheduleCreate

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
# The service publishes each change on the `schedules` topic itself, after commit.
TOPICS = "schedules,jobs"
FIELDS = ("name", "kind", "params", "cron", "interval_seconds", "timezone", "misfire",
          "catch_up_max", "overlap", "description")  # fmt: skip


def _blank() -> dict[str, Any]:
    return {"name": "", "kind": "import", "params": "{}", "cron": "0 3 * * *",
            "interval_seconds": "", "timezone": "UTC", "misfire": "run_once",
            "catch_up_max": 1, "overlap": "skip", "description": ""}  # fmt: skip


def _filled(schedule: Any) -> dict[str, Any]:
    return {
        **{f: getattr(schedule, f) for f in FIELDS if f != "params"},
        "params": json.dumps(schedule.params, indent=2),
        "interval_seconds": schedule.interval_seconds or "",
        "cron": schedule.cron or "",
        "description": schedule.description or "",
    }


async def _list_context(request: Request, session: Any) -> dict[str, Any]:
    rows = await service.list_schedules(session)
    statuses = await service.job_statuses(session, [s.last_job_id for s in rows if s.last_job_id])
    return {"rows": rows, "statuses": statuses}


def _form_context(form: dict[str, Any], errors: dict[str, str], action: str) -> dict[str, Any]:
    return {
        "form": form,
        "errors": errors,
        "form_action": action,
        "kinds": service.SCHEDULABLE_KINDS,
    }


@router.get("/ui/schedules")
async def schedules_page(request: Request, session: SessionDep) -> Response:
    """Every schedule: when it fires next, its last outcome and job, and the create form."""
    return page(
        request,
        "schedules.html",
        "schedules",
        title="Schedules",
        topics=TOPICS,
        **await _list_context(request, session),
        **_form_context(_blank(), {}, "/ui/schedules"),
    )


def _submitted(form: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(the form as typed, the schedule fields, errors of parsing) from a posted form."""
    typed = {f: str(form.get(f) or "") for f in FIELDS}
    errors: dict[str, str] = {}
    data: dict[str, Any] = {k: v.strip() or None for k, v in typed.items()}
    try:
        data["params"] = json.loads(typed["params"] or "{}")
    except json.JSONDecodeError as exc:
        errors["params"] = f"Not valid JSON: {exc.msg} (line {exc.lineno})"
    for number in ("interval_seconds", "catch_up_max"):
        raw = data[number]
        if raw is not None and not str(raw).isdigit():
            errors[number] = "Enter a whole number"
        elif raw is not None:
            data[number] = int(raw)
    data["catch_up_max"] = data["catch_up_max"] or 1
    data["timezone"] = data["timezone"] or "UTC"
    return typed, data, errors


def _field_errors(exc: ValidationFailed) -> dict[str, str]:
    errors: dict[str, str] = {}
    for d in exc.details or [{"field": "name", "message": exc.message}]:
        key = str(d.get("field", "name")).split(".")[0]
        errors[key] = f"{errors[key]}; {d['message']}" if key in errors else str(d["message"])
    return errors


def _pydantic_errors(exc: Any) -> dict[str, str]:
    return {str(e["loc"][0]) if e["loc"] else "name": e["msg"] for e in exc.errors()}


async def _form_failed(
    request: Request, session: Any, typed: dict[str, Any], errors: dict[str, str], action: str
) -> Response:
    headers = toast_headers("The schedule is not valid; see the fields", "error")
    block = "schedule_form" if request.headers.get("HX-Request") else None
    return page(
        request,
        "schedules.html",
        "schedules",
        block=block,
        status_code=422,
        headers=headers,
        title="Schedules",
        topics=TOPICS,
        **await _list_context(request, session),
        **_form_context(typed, errors, action),
    )


@router.post("/ui/schedules")
async def create_schedule(request: Request, session: SessionDep) -> Response:
    """Store a new schedule from the form."""
    from pydantic import ValidationError

    principal = require(request, Role.operator)
    typed, data, errors = _submitted(await request.form())
    if not errors:
        try:
            checked = ScheduleCreate.model_validate(data).model_dump()
            schedule = await service.create_schedule(
                session,
                data=checked,
                config=get_runtime(request).config,
                created_by=principal.user_id,
            )
        except ValidationError as exc:
            errors = _pydantic_errors(exc)
        except ValidationFailed as exc:
            errors = _field_errors(exc)
    if errors:
        return await _form_failed(request, session, typed, errors, "/ui/schedules")
    message = (
        f"Schedule {schedule.name} stored; next fire {schedule.next_fire_at:%Y-%m-%d %H:%M} UTC"
    )
    # An emptied form for the next one; the list refreshes on the event.
    return _saved(
        request, "schedules.html", _blank(), "/ui/schedules", message,
        back=f"/ui/schedules/{schedule.id}",
    )  # fmt: skip


def _saved(
    request: Request,
    template: str,
    form: dict[str, Any],
    action: str,
    message: str,
    *,
    back: str,
    schedule: Any = None,
) -> Response:
    """After a save: the form again without errors (htmx), or a redirect (a plain form)."""
    if not request.headers.get("HX-Request"):
        return done(request, message, back=back)
    context = _form_context(form, {}, action)
    if schedule is not None:
        context["schedule"] = schedule
    headers = trigger_headers(message, {"fd:schedules-changed": True})
    return page(request, template, "schedules", block="schedule_form", headers=headers, **context)


@router.get("/ui/schedules/{schedule_id}")
async def schedule_page(request: Request, session: SessionDep, schedule_id: int) -> Response:
    """One schedule: its timing, its runs (jobs), and the edit form."""
    schedule = await service.get_schedule(session, schedule_id)
    runs = await service.list_runs(session, schedule_id=schedule_id, limit=50)
    return page(
        request,
        "schedule.html",
        "schedules",
        title=f"Schedule {schedule.name}",
        topics=TOPICS,
        schedule=schedule,
        runs=runs,
        **_form_context(_filled(schedule), {}, f"/ui/schedules/{schedule_id}"),
    )


@router.post("/ui/schedules/{schedule_id}")
async def edit_schedule(request: Request, session: SessionDep, schedule_id: int) -> Response:
    """Change a schedule from the form."""
    require(request, Role.operator)
    schedule = await service.get_schedule(session, schedule_id)
    typed, data, errors = _submitted(await request.form())
    action = f"/ui/schedules/{schedule_id}"
    if not errors:
        changes = {k: data[k] for k in FIELDS if k != "kind"}
        if schedule.builtin:
            changes.pop("name")
            changes.pop("params")
        try:
            await service.update_schedule(
                session,
                schedule_id=schedule_id,
                changes=changes,
                config=get_runtime(request).config,
            )
        except ValidationFailed as exc:
            errors = _field_errors(exc)
    if errors:
        return await _form_failed(request, session, typed, errors, action)
    await session.refresh(schedule)
    return _saved(
        request, "schedule.html", _filled(schedule), action, f"Schedule {schedule.name} saved",
        back=action, schedule=schedule,
    )  # fmt: skip


@router.post("/ui/schedules/{schedule_id}/{action}")
async def schedule_action(
    request: Request, session: SessionDep, schedule_id: int, action: str
) -> Response:
    """Pause, resume, run now or delete."""
    principal = require(request, Role.operator)
    config = get_runtime(request).config
    if action in ("pause", "resume"):
        schedule = await service.set_enabled(
            session, schedule_id=schedule_id, enabled=action == "resume", config=config
        )
        message = f"Schedule {schedule.name} {'resumed' if schedule.enabled else 'paused'}"
    elif action == "run-now":
        job = await service.run_now(session, schedule_id=schedule_id, created_by=principal.user_id)
        message = f"Queued job {job.id[:8]}"
    elif action == "delete":
        await service.delete_schedule(session, schedule_id=schedule_id)
        message = "Schedule deleted"
    else:
        raise ValidationFailed.field("action", "Choose pause, resume, run-now or delete")
    back = "/ui/schedules" if action == "delete" else f"/ui/schedules/{schedule_id}"
    response = done(request, message, back=back, **{"fd:schedules-changed": True})
    return response
