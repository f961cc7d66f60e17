"""API keys: your keys (an admin sees everyone's, like GET /api/v1/api_keys), a new key whose
secret is shown once, and revoke; the rules are foredeck.auth.admin's, as in the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from foredeck.auth import admin as auth_admin
from foredeck.auth import service as auth_service
from foredeck.auth.schemas import ApiKeyCreate, Role
from foredeck.console.web import (
    ConsoleRoute,
    done,
    page,
    parse_when,
    require,
    toast_headers,
    trigger_headers,
)
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
CHANGED = {"fd:keys-changed": True}


def _state(key: Any, now: datetime) -> str:
    if key.revoked_at is not None:
        return "revoked"
    expires = key.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    return "expired" if expires is not None and expires <= now else "active"


async def _page(
    request: Request,
    session: Any,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    created: dict[str, Any] | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    principal = require(request, Role.viewer)
    keys = await auth_service.list_api_keys(session, user_id=auth_admin.key_owner_filter(principal))
    owners: dict[int, str] = {}
    if any(k.user_id != principal.user_id for k in keys):
        owners = await auth_service.usernames(session, {k.user_id for k in keys})
    now = datetime.now(UTC)
    return page(
        request,
        "api_keys.html",
        "api_keys",
        status_code=status,
        headers=headers,
        title="API keys",
        topics="jobs",
        # Anyone signed in manages their own keys (the API's rule), viewers included.
        self_service=True,
        keys=[(k, _state(k, now)) for k in reversed(keys)],
        owners=owners,
        me=principal.user_id,
        all_keys=principal.role == Role.admin,
        form=typed or {"name": "", "expires_at": ""},
        errors=errors or {},
        created=created,
    )


@router.get("/ui/api-keys")
async def api_keys_page(request: Request, session: SessionDep) -> Response:
    """Your API keys with their state and last use, and the form for a new one."""
    return await _page(request, session)


@router.post("/ui/api-keys")
async def create_api_key(request: Request, session: SessionDep) -> Response:
    """A new key for yourself; its secret is on this answer only."""
    principal = require(request, Role.viewer)
    form = await request.form()
    typed = {f: str(form.get(f) or "").strip() for f in ("name", "expires_at")}
    errors: dict[str, str] = {}
    expires_at = parse_when("expires_at", typed["expires_at"], errors)
    if not errors:
        try:
            body = ApiKeyCreate.model_validate({"name": typed["name"], "expires_at": expires_at})
        except ValidationError as exc:
            for err in exc.errors():
                errors.setdefault(str(err["loc"][0]) if err["loc"] else "name", err["msg"])
    if errors:
        headers = toast_headers("The key was not created; see the fields", "error")
        return await _page(
            request, session, typed=typed, errors=errors, status=422, headers=headers
        )
    key, secret = await auth_admin.create_api_key(
        session, principal, name=body.name, expires_at=body.expires_at
    )
    created = {"name": key.name, "prefix": key.prefix, "secret": secret}
    headers = trigger_headers(f"API key {key.name} created; copy it now", CHANGED)
    return await _page(request, session, created=created, headers=headers)


@router.post("/ui/api-keys/{key_id}/revoke")
async def revoke_api_key(request: Request, session: SessionDep, key_id: int) -> Response:
    """Revoke a key at once (yours; an admin's may be anyone's)."""
    principal = require(request, Role.viewer)
    key = await auth_admin.revoke_api_key(session, get_runtime(request).cache, principal, key_id)
    message = f"API key {key.name} ({key.prefix}) revoked"
    return done(request, message, back="/ui/api-keys", **CHANGED)
