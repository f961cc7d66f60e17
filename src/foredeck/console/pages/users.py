"""Users (admin, like /api/v1/users): the list, create, role, disable/enable, password reset
and delete, through the same services and rules as the API (foredeck.auth.admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from foredeck.auth import admin as auth_admin
from foredeck.auth import service as auth_service
from foredeck.auth.schemas import Role, UserCreate, UserUpdate
from foredeck.console.web import (
    ConsoleRoute,
    done,
    is_htmx,
    page,
    page_param,
    require,
    toast_headers,
    trigger_headers,
)
from foredeck.errors import Conflict, ValidationFailed
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PER_PAGE = 50
CREATE_FIELDS = ("username", "role", "email", "password")
CHANGED = {"fd:users-changed": True}


def _blank() -> dict[str, str]:
    return {"username": "", "role": Role.viewer.value, "email": "", "password": ""}


def _errors_of(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    """Pydantic's messages keyed by form field (the first one per field)."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "username"
        errors.setdefault(prefix + field, err["msg"])
    return errors


async def _page(
    request: Request,
    session: Any,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    block: str | None = None,
    headers: dict[str, str] | None = None,
    around: int | None = None,
) -> Response:
    principal = require(request, Role.admin)
    page_no = page_param(request)
    if around is not None and "page" not in request.query_params:
        # The page that holds this user, so an error shows next to its field.
        page_no = await auth_service.users_before(session, around) // PER_PAGE + 1
    users, total = await auth_service.list_users(
        session, offset=(page_no - 1) * PER_PAGE, limit=PER_PAGE
    )
    return page(
        request,
        "users.html",
        "users",
        block=block,
        status_code=status,
        headers=headers,
        title="Users",
        topics="jobs",
        users=users,
        total=total,
        page_no=page_no,
        pages=max(1, -(-total // PER_PAGE)),
        roles=[r.value for r in Role],
        me=principal.user_id,
        form=typed or _blank(),
        errors=errors or {},
    )


@router.get("/ui/users")
async def users_page(request: Request, session: SessionDep) -> Response:
    """Every user with role, state and last sign-in, and the form to add one."""
    return await _page(request, session)


@router.post("/ui/users")
async def create_user(request: Request, session: SessionDep) -> Response:
    """Add a user; bad fields come back next to the field, with what was typed."""
    require(request, Role.admin)
    form = await request.form()
    typed = {f: str(form.get(f) or "").strip() for f in CREATE_FIELDS}
    typed["password"] = str(form.get("password") or "")
    values = {k: v for k, v in typed.items() if v}
    try:
        body = UserCreate.model_validate(values)
        user = await auth_service.create_user(session, **body.model_dump())
    except ValidationError as exc:
        return await _failed(request, session, typed, _errors_of(exc))
    except Conflict as exc:
        field = "email" if exc.code == "DUPLICATE" else "username"
        return await _failed(request, session, typed, {field: exc.message})
    message = f"User {user.username} created as {user.role}"
    if not is_htmx(request):
        return done(request, message, back="/ui/users")
    # A fresh form for the next one; the list reloads on the event.
    return await _page(request, session, block="user_form", headers=_toast(message))


def _toast(message: str) -> dict[str, str]:
    return trigger_headers(message, CHANGED)


async def _failed(
    request: Request, session: Any, typed: dict[str, str], errors: dict[str, str]
) -> Response:
    typed = {**typed, "password": ""}  # a password is never sent back
    headers = toast_headers("The user was not created; see the fields", "error")
    block = "user_form" if is_htmx(request) else None
    return await _page(
        request, session, typed=typed, errors=errors, status=422, block=block, headers=headers
    )


async def _update(request: Request, session: Any, user_id: int, changes: dict[str, Any]) -> Any:
    principal = require(request, Role.admin)
    return await auth_admin.update_user(
        session, get_runtime(request).cache, principal, user_id, changes
    )


@router.post("/ui/users/{user_id}/role")
async def change_role(request: Request, session: SessionDep, user_id: int) -> Response:
    """Give a user another role (never your own admin role away)."""
    require(request, Role.admin)
    raw = str((await request.form()).get("role") or "")
    if raw not in {r.value for r in Role}:
        raise ValidationFailed.field("role", "Choose viewer, operator or admin")
    user = await _update(request, session, user_id, {"role": Role(raw)})
    message = f"{user.username} is now {user.role}"
    return done(request, message, back="/ui/users", **CHANGED)


@router.post("/ui/users/{user_id}/{action}")
async def set_active(request: Request, session: SessionDep, user_id: int, action: str) -> Response:
    """Disable or enable a user, or delete them (never yourself)."""
    principal = require(request, Role.admin)
    if action == "delete":
        user = await auth_service.get_user(session, user_id)
        await auth_admin.delete_user(session, get_runtime(request).cache, principal, user_id)
        return done(request, f"User {user.username} deleted", back="/ui/users", **CHANGED)
    if action == "password":
        return await _reset_password(request, session, user_id)
    if action not in ("disable", "enable"):
        raise ValidationFailed.field("action", "Choose disable, enable, password or delete")
    user = await _update(request, session, user_id, {"is_active": action == "enable"})
    message = f"{user.username} {'enabled' if user.is_active else 'disabled'}"
    return done(request, message, back="/ui/users", **CHANGED)


async def _reset_password(request: Request, session: Any, user_id: int) -> Response:
    """An admin's reset (the API's PATCH with a password): the user is signed out everywhere."""
    form = await request.form()
    password = str(form.get("password") or "")
    errors: dict[str, str] = {}
    try:
        body = UserUpdate.model_validate({"password": password})
    except ValidationError as exc:
        errors = _errors_of(exc, f"{user_id}.")
    if not errors:
        user = await _update(request, session, user_id, {"password": body.password})
        message = f"Password of {user.username} reset; they are signed out everywhere"
        return done(request, message, back="/ui/users", **CHANGED)
    await auth_service.get_user(session, user_id)
    headers = toast_headers("The password was not reset; see the field", "error")
    # The reset form targets the users table, so the error shows next to that user's field.
    return await _page(request, session, errors=errors, status=422, headers=headers, around=user_id)
