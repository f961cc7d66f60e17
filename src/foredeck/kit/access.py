"""One access log line and the HTTP metrics of each request, written when it ends."""

from __future__ import annotations

from typing import Any, Protocol

import structlog
from starlette.types import Scope

from foredeck.logging import get_logger

log = get_logger("foredeck.access")

# Probes and scrapes come every few seconds: at info level they would drown the real traffic.
QUIET_ROUTES = frozenset({"/health", "/health/live", "/health/ready", "/metrics"})
# The label of requests no route matched (404s, rate-limited and oversized bodies): the raw
# path as a label would let any client grow the metrics without bound.
UNMATCHED = "unmatched"


class HttpObserver(Protocol):
    """What the middleware reports to (telemetry's Metrics)."""

    def request_done(self, method: str, route: str, status: int, seconds: float) -> None: ...

    def sse_opened(self) -> None: ...

    def sse_closed(self) -> None: ...

    def rate_limited(self) -> None: ...


def route_template(scope: Scope) -> str | None:
    """The matched route's path with its placeholders (`/api/v1/jobs/{job_id}`)."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else None


_bound: tuple[Any, Any, Any] | None = None


def _logger() -> Any:
    """The access logger, bound once per logging configuration.

    The module's lazy proxy assembles a new bound logger on every call (foredeck configures
    structlog with cache_logger_on_first_use off, as create_app may run again): on a cheap
    request that was a fifth of the access line's cost."""
    global _bound
    config = structlog.get_config()
    procs, wrapper = config["processors"], config["wrapper_class"]
    if _bound is None or _bound[0] is not procs or _bound[1] is not wrapper:
        _bound = (procs, wrapper, log.bind())
    return _bound[2]


def _principal(scope: Scope) -> Any:
    state = scope.get("state") or {}
    return state.get("principal") or state.get("console_principal")


def record(
    scope: Scope,
    *,
    status: int,
    sent: int,
    seconds: float,
    observer: HttpObserver | None,
    enabled: bool,
) -> None:
    """Log the request and count it. Only the route template (or, unmatched, the bare path)
    is written: never the query string nor a header, where secrets travel."""
    template = route_template(scope)
    method: str = scope.get("method", "")
    if observer is not None:
        observer.request_done(method, template or UNMATCHED, status, seconds)
    if not enabled:
        return
    principal = _principal(scope)
    client = scope.get("client")
    logger = _logger()
    emit = logger.debug if template in QUIET_ROUTES else logger.info
    emit(
        "http_request",
        method=method,
        path=template or scope.get("path", "")[:200],
        route_matched=template is not None,
        status=status,
        duration_ms=round(seconds * 1000, 2),
        bytes=sent,
        principal=getattr(principal, "username", None),
        auth=getattr(principal, "via", None),
        client=client[0] if client else None,
    )
