"""The console's signed session cookie, its CSRF token, and the middleware that reads both."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from foredeck.auth import service as auth_service
from foredeck.auth.schemas import Role
from foredeck.auth.service import Principal
from foredeck.auth.sessions import local_checks, user_key
from foredeck.kit.envelope import error_response
from foredeck.kit.runtime import runtime_of
from foredeck.logging import get_logger

log = get_logger(__name__)

COOKIE = "foredeck_session"
LOGIN_COOKIE = "foredeck_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SALT = "foredeck.console.session"
LOGIN_SALT = "foredeck.console.login"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# A role change or a disabled user reaches open sessions within this many seconds.
USER_CACHE_TTL = 10.0


@dataclass(frozen=True)
class ConsoleSession:
    """What the cookie carries: the user, a session id (for sign-out) and the CSRF token."""

    user_id: int
    sid: str
    csrf: str
    issued_at: float
    # The user's credentials stamp when signed in; a password change makes it stale.
    stamp: str | None = None


def _serializer(secret: str, salt: str = SALT) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=salt)


def new_session(secret: str, user_id: int, stamp: str | None = None) -> tuple[str, ConsoleSession]:
    """A fresh session for a user who just signed in, and its cookie value."""
    session = ConsoleSession(
        user_id=user_id,
        sid=secrets.token_urlsafe(12),
        csrf=secrets.token_urlsafe(24),
        issued_at=time.time(),
        stamp=stamp,
    )
    data: dict[str, Any] = {"u": user_id, "s": session.sid, "c": session.csrf}
    if stamp:
        data["g"] = stamp
    return _serializer(secret).dumps(data), session


def read_session(secret: str, value: str, max_age: int) -> ConsoleSession | None:
    """The session in a cookie value, or None when it is forged or expired."""
    try:
        data, signed_at = _serializer(secret).loads(value, max_age=max_age, return_timestamp=True)
        return ConsoleSession(
            user_id=int(data["u"]),
            sid=str(data["s"]),
            csrf=str(data["c"]),
            issued_at=signed_at.timestamp(),
            stamp=str(data["g"]) if data.get("g") else None,
        )
    except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError):
        return None


def new_login_token(secret: str) -> tuple[str, str]:
    """A pre-session CSRF token for the login form: (cookie value, form value)."""
    token = secrets.token_urlsafe(24)
    return _serializer(secret, LOGIN_SALT).dumps(token), token


def check_login_token(secret: str, cookie_value: str | None, form_value: str | None) -> bool:
    if not cookie_value or not form_value:
        return False
    try:
        expected = _serializer(secret, LOGIN_SALT).loads(cookie_value, max_age=3600)
    except (BadSignature, SignatureExpired):
        return False
    return secrets.compare_digest(str(expected), form_value)


def cookie_value(headers: Headers, name: str) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def revoked_key(sid: str) -> str:
    return f"console:revoked:{sid}"


async def _lookup(app: Any, session: ConsoleSession) -> Principal | None:
    runtime = runtime_of(app)
    cache = runtime.cache
    try:
        if await cache.get(revoked_key(session.sid)) is not None:
            return None
        key = user_key(session.user_id)
        hit = await cache.get(key)
        if hit is None:
            async with runtime.sessionmaker() as db:
                user = await db.get(auth_service.User, session.user_id)
                hit = (
                    {
                        "id": user.id,
                        "username": user.username,
                        "role": user.role,
                        "stamp": auth_service.credentials_stamp(user),
                    }
                    if user is not None and user.is_active
                    else {"id": None}
                )
            await cache.set(key, hit, USER_CACHE_TTL)
    except Exception:
        # Without the revocation list a signed-out cookie could pass: fail closed.
        log.warning("console_session_check_failed", user_id=session.user_id)
        return None
    if hit.get("id") is None or hit.get("stamp") != session.stamp:
        return None
    return Principal(
        user_id=int(hit["id"]), username=hit["username"], role=Role(hit["role"]), via="session"
    )


# A page opens several requests at once (the page, its SSE stream, htmx refreshes); they share
# one lookup, and its answer is kept for a moment in this process.
LOCAL_TTL = 2.0
_inflight: dict[str, asyncio.Future[Principal | None]] = {}


def forget_local(sid: str) -> None:
    """Drop this process's memory of a session (at sign-out)."""
    for key in [k for k in local_checks if k.startswith(f"{sid}:")]:
        local_checks.pop(key, None)


async def principal_for_session(app: Any, session: ConsoleSession) -> Principal | None:
    """The signed-in user (cached briefly), or None when revoked, deleted or disabled."""
    key = f"{session.sid}:{session.user_id}:{id(app)}"
    hit = local_checks.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    future = _inflight.get(key)
    if future is None:
        future = asyncio.ensure_future(_lookup(app, session))
        _inflight[key] = future
        future.add_done_callback(lambda _f: _inflight.pop(key, None))
    principal = await asyncio.shield(future)
    if len(local_checks) > 10_000:
        local_checks.clear()
    local_checks[key] = (time.monotonic() + LOCAL_TTL, principal)
    return principal


class ConsoleSessionMiddleware:
    """Turns a valid console cookie into `request.state.console_principal`.

    API routes then accept the cookie like a bearer token, so a cookie-authenticated write
    to the API must carry the CSRF header; console routes check the token themselves
    (it may come in a form field), see `web.ConsoleRoute`.
    """

    def __init__(self, app: ASGIApp, fastapi_app: Any) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/ui/static/"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        raw = cookie_value(headers, COOKIE)
        if raw:
            config = runtime_of(self.fastapi_app).config
            session = read_session(config.resolved_secret_key, raw, config.token_ttl_seconds)
            state = scope.setdefault("state", {})
            state["console_session"] = session
            principal = await principal_for_session(self.fastapi_app, session) if session else None
            if principal is not None and session is not None:
                bearer = headers.get("authorization")
                is_api = not scope["path"].startswith("/ui")
                if (
                    is_api
                    and not bearer
                    and scope["method"] not in SAFE_METHODS
                    and not secrets.compare_digest(headers.get(CSRF_HEADER, ""), session.csrf)
                ):
                    response = error_response(
                        _StateOnly(state),
                        403,
                        "CSRF_FAILED",
                        "A console session writing to the API must send its CSRF token",
                    )
                    await response(scope, receive, send)
                    return
                state["console_principal"] = principal
        await self.app(scope, receive, send)


class _StateOnly:
    def __init__(self, state: dict[str, Any]) -> None:
        self.state = type("S", (), dict(state))()
