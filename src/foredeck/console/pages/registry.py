"""Registry: each resource's rows (projects, tasks, servers, ...), with create and edit for
operators and delete for admins, the role rule of the generated API (foredeck.kit.crud)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from foredeck.auth.schemas import Role
from foredeck.console.pages import registry_form as rf
from foredeck.console.web import (
    ConsoleRoute,
    done,
    is_htmx,
    page,
    page_param,
    require,
    toast_headers,
)
from foredeck.errors import Conflict, NotFound, ValidationFailed
from foredeck.kit import crud
from foredeck.kit.deps import SessionDep
from foredeck.kit.schemas import MAX_DB_INT
from foredeck.registry.specs import SPECS

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
BY_PATH = {spec.path: spec for spec in SPECS}
PER_PAGE = 50


def _spec(path: str) -> crud.CrudSpec:
    spec = BY_PATH.get(path)
    if spec is None:
        raise NotFound(f"No registry resource named {path}")
    return spec


def _title(spec: crud.CrudSpec) -> str:
    return spec.path.replace("_", " ").capitalize()


def _columns(spec: crud.CrudSpec) -> list[str]:
    plain = [f["name"] for f in rf.fields_of(spec.out) if f["kind"] != "json" and not f["long"]]
    shown = [c for c in plain if c not in ("id", "created_at", "updated_at")][: rf.LIST_COLUMNS]
    return ["id", *shown, "created_at" if "updated_at" not in plain else "updated_at"]


def _read_only(spec: crud.CrudSpec, row: dict[str, Any]) -> bool:
    """A row of the wider read path (a job's run among task executions) cannot be changed."""
    return spec.list_source is not None and row.get("source", "worker") != "worker"


@router.get("/ui/registry")
async def registry_index(request: Request, session: SessionDep) -> Response:
    """Every registry resource with how many rows it has."""
    require(request, Role.viewer)
    counts = []
    for spec in SPECS:
        counts.append((spec, _title(spec), await crud.count_items(session, spec, {})))
    return page(
        request, "registry.html", "registry", title="Registry", topics="jobs", resources=counts
    )


async def _list_page(
    request: Request,
    session: Any,
    spec: crud.CrudSpec,
    *,
    typed: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    require(request, Role.viewer)
    page_no = page_param(request)
    q = request.query_params.get("q", "").strip()[:200] if spec.search else ""
    rows, total = await crud.list_items(
        session, spec, {"q": q or None}, offset=(page_no - 1) * PER_PAGE, limit=PER_PAGE
    )
    fields = rf.fields_of(spec.create)
    return page(
        request,
        "registry_list.html",
        "registry",
        status_code=status,
        headers=headers,
        title=_title(spec),
        topics="jobs",
        spec=spec,
        heading=_title(spec),
        columns=_columns(spec),
        rows=[spec.out.model_validate(r).model_dump() for r in rows],
        total=total,
        page_no=page_no,
        pages=max(1, -(-total // PER_PAGE)),
        q=q,
        fields=fields,
        vals=typed or {f["name"]: f["default"] for f in fields},
        errors=errors or {},
        deleted=request.query_params.get("deleted", "")[:64],
    )


@router.get("/ui/registry/{path}")
async def resource_page(request: Request, session: SessionDep, path: str) -> Response:
    """One resource's rows (searchable where the API searches), and the form for a new one."""
    return await _list_page(request, session, _spec(path))


@router.post("/ui/registry/{path}")
async def create_row(request: Request, session: SessionDep, path: str) -> Response:
    """A new row (operator): the API's create model and checks, errors by field."""
    require(request, Role.operator)
    spec = _spec(path)
    fields = rf.fields_of(spec.create)
    typed = rf.form_texts(fields, await request.form())
    body, errors = rf.body_of(fields, typed, partial=False)
    if not errors:
        try:
            values = spec.create.model_validate(body).model_dump()
            async with session.begin_nested():
                row = await crud.create_item(session, spec, values)
        except ValidationError as exc:
            errors = rf.validation_errors(exc)
        except (ValidationFailed, Conflict) as exc:
            errors = rf.app_errors(exc, fields)
    if errors:
        headers = toast_headers(f"The {spec.label} was not created; see the fields", "error")
        return await _list_page(
            request, session, spec, typed=typed, errors=errors, status=422, headers=headers
        )
    message = f"Created {spec.label} {row.id}"
    if not is_htmx(request):
        return done(request, message, back=f"/ui/registry/{path}/{row.id}")
    return await _list_page(request, session, spec, headers=toast_headers(message))


async def _row_page(
    request: Request,
    session: Any,
    spec: crud.CrudSpec,
    item_id: str,
    *,
    typed: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    require(request, Role.viewer)
    row = await crud.read_item(session, spec, _item_id(spec, item_id))
    shown = spec.out.model_validate(row).model_dump()
    fields = rf.fields_of(spec.update)
    return page(
        request,
        "registry_row.html",
        "registry",
        status_code=status,
        headers=headers,
        title=f"{spec.label.capitalize()} {shown['id']}",
        topics="jobs",
        spec=spec,
        heading=_title(spec),
        row=shown,
        out_fields={f["name"]: f for f in rf.fields_of(spec.out)},
        read_only=_read_only(spec, shown),
        fields=fields,
        vals=typed or {f["name"]: rf.text_of(f, shown.get(f["name"])) for f in fields},
        errors=errors or {},
    )


def _item_id(spec: crud.CrudSpec, raw: str) -> Any:
    if spec.id_type is str:
        return raw
    # Any id the database could not hold is simply not a row (the API answers 422 by type).
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_DB_INT:
        raise NotFound(f"{spec.label.capitalize()} {raw[:64]} not found")
    return int(raw)


@router.get("/ui/registry/{path}/{item_id}")
async def row_page(request: Request, session: SessionDep, path: str, item_id: str) -> Response:
    """One row with every field, the edit form (operator) and delete (admin)."""
    return await _row_page(request, session, _spec(path), item_id)


@router.post("/ui/registry/{path}/{item_id}")
async def update_row(request: Request, session: SessionDep, path: str, item_id: str) -> Response:
    """Save the edit form (operator): the API's update model and checks, errors by field."""
    require(request, Role.operator)
    spec = _spec(path)
    row = await crud.get_writable(session, spec, _item_id(spec, item_id))
    fields = rf.fields_of(spec.update)
    typed = rf.form_texts(fields, await request.form())
    body, errors = rf.body_of(fields, typed, partial=True)
    if not errors:
        try:
            changes = spec.update.model_validate(body).model_dump(exclude_unset=True)
            async with session.begin_nested():
                await crud.update_item(session, spec, row, changes)
        except ValidationError as exc:
            errors = rf.validation_errors(exc)
        except (ValidationFailed, Conflict) as exc:
            errors = rf.app_errors(exc, fields)
    if errors:
        await session.refresh(row)
        headers = toast_headers(f"The {spec.label} was not saved; see the fields", "error")
        return await _row_page(
            request, session, spec, item_id, typed=typed, errors=errors, status=422,
            headers=headers,
        )  # fmt: skip
    message = f"Saved {spec.label} {item_id}"
    if not is_htmx(request):
        return done(request, message, back=f"/ui/registry/{path}/{item_id}")
    return await _row_page(request, session, spec, item_id, headers=toast_headers(message))


@router.post("/ui/registry/{path}/{item_id}/delete")
async def delete_row(request: Request, session: SessionDep, path: str, item_id: str) -> Response:
    """Delete a row (admin); rows that reference it block it unless cascade is ticked."""
    require(request, Role.admin)
    spec = _spec(path)
    row = await crud.get_writable(session, spec, _item_id(spec, item_id))
    cascade = (await request.form()).get("cascade") in ("on", "true", "1")
    try:
        await crud.delete_item(session, spec, row, cascade=cascade)
    except Conflict as exc:
        if exc.code != "HAS_DEPENDENTS":
            raise
        counts = "; ".join(f"{d['field']}: {d['message']}" for d in exc.details)
        raise Conflict(
            f"The {spec.label} is still referenced ({counts}); tick 'also delete the rows that "
            "reference it' to remove those too",
            code=exc.code,
            details=exc.details,
        ) from exc
    message = f"Deleted {spec.label} {item_id}"
    if cascade:
        message += " and the rows that referenced it"
    back = f"/ui/registry/{path}?deleted={item_id}"
    if is_htmx(request):
        # The row's page is gone: go to the list, which says what was deleted.
        return Response(status_code=200, headers={"HX-Redirect": back})
    return done(request, message, back=back)
