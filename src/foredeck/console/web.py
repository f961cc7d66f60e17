"""Rendering for the console: whole pages, htmx blocks, toasts, and the error route class."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments import render_block
from starlette.background import BackgroundTask

from foredeck import __version__
from foredeck.auth.schemas import ROLE_RANK, Role
from foredeck.auth.service import Principal
from foredeck.console.hub import CONSOLE_HUB
from foredeck.console.session import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS
from foredeck.errors import AppError, Forbidden, Unauthorized
from foredeck.kit.runtime import get_runtime

TEMPLATES = Path(__file__).parent / "templates"

NAV = [
    ("overview", "Overview", "/ui/"),
    ("import", "Import", "/ui/import"),
    ("export", "Export", "/ui/export"),
    ("jobs", "Jobs", "/ui/jobs"),
    ("queue", "Queue", "/ui/queue"),
    ("workers", "Workers", "/ui/workers"),
    ("schedules", "Schedules", "/ui/schedules"),
    ("index", "Index", "/ui/index"),
    ("search", "Search", "/ui/search"),
    ("datasets", "Datasets", "/ui/datasets"),
    ("registry", "Registry", "/ui/registry"),
    ("settings", "Settings", "/ui/settings"),
    ("api_keys", "API keys", "/ui/api-keys"),
    ("users", "Users", "/ui/users"),
]
# Pages only some roles may open (the API's rule for the same data); the others are for all.
NAV_ROLES = {"users": Role.admin}

ENVIRONMENT_LABELS = {"development": "local", "staging": "staging", "production": "production"}


def _reltime(value: datetime | None) -> str:
    if value is None:
        return "never"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    seconds = int((datetime.now(UTC) - value).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 5:
        text = "just now"
        return text
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            text = f"{seconds // size} {unit}"
            break
    return f"in {text}" if future else f"{text} ago"


def _when(value: datetime | None) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _bytes(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(reltime=_reltime, when=_when, duration=_duration, bytes=_bytes, number=_number)
env.globals["version"] = __version__
env.globals["m"] = env.get_template("_macros.html").module


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def principal_of(request: Request) -> Principal | None:
    return getattr(request.state, "console_principal", None)


def can(principal: Principal | None, role: Role) -> bool:
    return principal is not None and ROLE_RANK[principal.role] >= ROLE_RANK[role]


def base_context(request: Request, page: str) -> dict[str, Any]:
    """What every template needs: who, the CSRF token, environment, mode and navigation."""
    config = get_runtime(request).config
    principal = principal_of(request)
    session = getattr(request.state, "console_session", None)
    return {
        "request": request,
        "page": page,
        "nav": [n for n in NAV if can(principal, NAV_ROLES.get(n[0], Role.viewer))],
        "principal": principal,
        "csrf": session.csrf if session is not None else "",
        "can_operate": can(principal, Role.operator),
        "can_admin": can(principal, Role.admin),
        "environment": ENVIRONMENT_LABELS.get(config.environment.value, config.environment.value),
        "mode": "embedded" if config.embedded else "scale-out",
        "now": datetime.now(UTC),
        "url": request.url,
        "query": dict(request.query_params),
        "live_since": getattr(request.state, "live_since", ""),
    }


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A whole page for a page request; for an htmx request, the block its target names."""
    if block is None and is_htmx(request):
        target = request.headers.get("hx-target", "")
        candidate = target.replace("-", "_")
        tmpl = env.get_template(template)
        if candidate and candidate in tmpl.blocks:
            block = candidate
    if block is not None:
        html = render_block(env, template, block, context)
    else:
        html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=headers)


def page(
    request: Request,
    template: str,
    section: str,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **data: Any,
) -> HTMLResponse:
    """A console page: what every template needs (`section` lights its navigation entry) and
    this page's `data`, rendered as `render` does (an htmx request gets its target's block).

    The HTTP status is `status_code`, so that `status` stays free for a template's own data.
    """
    context = base_context(request, section)
    context.update(data)
    return render(request, template, context, block=block, status=status_code, headers=headers)


def page_param(request: Request) -> int:
    """The ?page= of a paged list (1 when missing or not a number)."""
    raw = request.query_params.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() else 1


def parse_when(name: str, value: str | None, errors: dict[str, str]) -> datetime | None:
    """A date or date-time from a form or query field; a message in `errors` when unreadable."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        errors[name] = "Use a date like 2026-11-23 or 2026-11-23T10:00"
        return None


def toast_headers(message: str, level: str = "success", **extra: Any) -> dict[str, str]:
    """An htmx HX-Trigger header that shows a toast (and fires any extra events)."""
    events: dict[str, Any] = {"fd:toast": {"level": level, "message": message}}
    events.update(extra)
    return {"HX-Trigger": json.dumps(events)}


def trigger_headers(message: str, events: dict[str, Any]) -> dict[str, str]:
    """A success toast plus named client events (names may contain ':')."""
    events = {"fd:toast": {"level": "success", "message": message}, **events}
    return {"HX-Trigger": json.dumps(events)}


def done(request: Request, message: str, *, back: str, **extra: Any) -> Response:
    """The answer to a successful write: a toast for htmx, a redirect for a plain form."""
    if is_htmx(request):
        return Response(status_code=204, headers=toast_headers(message, **extra))
    return RedirectResponse(back, status_code=303)


def safe_next(value: str | None) -> str:
    """A same-site path to go back to after sign-in (never another origin)."""
    if not value:
        return "/ui/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/ui/"
    return value


def login_redirect(request: Request) -> Response:
    """Send an unauthenticated caller to the login page, remembering where they were."""
    if is_htmx(request):
        current = request.headers.get("hx-current-url", "")
        parts = urlsplit(current)
        back = parts.path + (f"?{parts.query}" if parts.query else "") if parts.path else "/ui/"
        location = f"/ui/login?next={quote(safe_next(back))}"
        return Response(status_code=200, headers={"HX-Redirect": location})
    back = request.url.path
    if request.method not in SAFE_METHODS:
        referer = request.headers.get("referer", "")
        back = urlsplit(referer).path or "/ui/"
    elif request.url.query:
        back += f"?{request.url.query}"
    return RedirectResponse(f"/ui/login?next={quote(safe_next(back))}", status_code=303)


def error_response(request: Request, exc: AppError) -> Response:
    """An AppError as a toast (htmx) or an error page (plain request)."""
    if isinstance(exc, Unauthorized):
        return login_redirect(request)
    if is_htmx(request):
        headers = toast_headers(exc.message, "error")
        headers["HX-Reswap"] = "none"
        return Response(status_code=exc.status_code, headers=headers)
    code = exc.status_code
    return page(request, "error.html", "error", status_code=code, error=exc, status=code)


async def _check_csrf(request: Request) -> None:
    session = getattr(request.state, "console_session", None)
    expected = session.csrf if session is not None else None
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not expected or not sent or not secrets.compare_digest(expected, sent):
        raise Forbidden("The form's security token is missing or wrong", code="CSRF_FAILED")


class ConsoleRoute(APIRoute):
    """Console routes: sign-in required, CSRF checked on writes, errors shown as HTML."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        public = bool((self.openapi_extra or {}).get("x-console-public"))

        async def _handle(request: Request) -> Response:
            try:
                if not public:
                    if principal_of(request) is None:
                        return login_redirect(request)
                    if request.method not in SAFE_METHODS:
                        await _check_csrf(request)
                # Taken before the handler reads anything, so the page is at least this fresh.
                hub = get_runtime(request).get(CONSOLE_HUB)
                request.state.live_since = hub.cursor() if hub is not None else ""
                return await handler(request)
            except AppError as exc:
                return error_response(request, exc)

        return _handle


PUBLIC = {"x-console-public": True}


def require(request: Request, role: Role) -> Principal:
    """The signed-in user when they have this role (the same rule as the API), else 403."""
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("Sign in first")
    if not can(principal, role):
        raise Forbidden(
            f"This needs the {role.value} role; you are {principal.role.value}",
            code="INSUFFICIENT_ROLE",
        )
    return principal


def publish_after(
    response: Response,
    request: Request,
    topic: str,
    data: dict[str, Any],
    also: tuple[str, ...] = (),
) -> Response:
    """Announce a change once the request's transaction has committed (after the response)."""
    pubsub = get_runtime(request).pubsub
    if pubsub is None:
        return response

    async def _send() -> None:
        for name in (topic, *also):
            result = pubsub.publish(name, data)
            if hasattr(result, "__await__"):
                await result

    response.background = BackgroundTask(_send)
    return response
