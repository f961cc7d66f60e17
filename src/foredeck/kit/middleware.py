"""Pure ASGI middleware: request id, timing, access log, body-size limit and rate limiting."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import structlog
from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foredeck.config import Config
from foredeck.kit import access
from foredeck.kit.access import HttpObserver
from foredeck.kit.bodylimit import call_with_limit
from foredeck.kit.envelope import error_response
from foredeck.kit.ratelimit import RateLimiter

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        config: Config,
        limiter: RateLimiter | None,
        observer: HttpObserver | None = None,
    ) -> None:
        self.app = app
        self.config = config
        self.limiter = limiter
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        start = time.perf_counter()
        extra_headers: dict[str, str] = {}
        status = 0
        sent = 0
        sse = False
        observer = self.observer

        async def send_wrapper(message: Message) -> None:
            nonlocal status, sent, sse
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            elif message["type"] == "http.response.start":
                status = message["status"]
                # Raw tuples appended unless the response set one already (error responses
                # carry the request id): MutableHeaders cost more than the rest of this.
                raw = list(message.get("headers", ()))
                present = {name for name, _ in raw}
                extra = (
                    (b"x-request-id", request_id),
                    (b"x-process-time", f"{time.perf_counter() - start:.6f}"),
                    *((k.lower().encode(), v) for k, v in extra_headers.items()),
                )
                raw += [(k, v.encode("latin-1")) for k, v in extra if k not in present]
                message["headers"] = raw
                if observer is not None and any(
                    k == b"content-type" and v.startswith(b"text/event-stream") for k, v in raw
                ):
                    sse = True
                    observer.sse_opened()
            await send(message)

        try:
            await self._handle(scope, receive, send_wrapper, headers, request_id, extra_headers)
        finally:
            if sse and observer is not None:
                observer.sse_closed()
            # No response started: the exception goes on to Starlette's 500 handler.
            access.record(
                scope,
                status=status or 500,
                sent=sent,
                seconds=time.perf_counter() - start,
                observer=observer,
                enabled=self.config.access_log,
            )

    async def _handle(
        self,
        scope: Scope,
        receive: Receive,
        send_wrapper: Send,
        headers: Headers,
        request_id: str,
        extra_headers: dict[str, str],
    ) -> None:
        if self.limiter is not None:
            verdict = await self.limiter.check(scope, headers)
            if verdict is not None:
                extra_headers.update(verdict.headers)
                if not verdict.allowed:
                    if self.observer is not None:
                        self.observer.rate_limited()
                    response = error_response(
                        _FakeRequest(request_id),
                        429,
                        "RATE_LIMITED",
                        f"Too many requests; retry in {verdict.retry_after} s",
                        headers={**verdict.headers, "Retry-After": str(verdict.retry_after)},
                    )
                    await response(scope, receive, send_wrapper)
                    return

        await call_with_limit(
            self.app,
            scope,
            receive,
            send_wrapper,
            limit=self._body_limit(headers),
            request=_FakeRequest(request_id),
        )

    def _body_limit(self, headers: Headers) -> int:
        if headers.get("content-type", "").startswith("multipart/form-data"):
            return self.config.max_upload_bytes
        return self.config.max_body_bytes


class GZipForGzipClients(GZipMiddleware):
    """Compress for clients that accept gzip; others go straight to the app.

    Starlette wraps every response, even for clients that never asked for compression; the
    wrapper cost ~10 % of a cached point read.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"accept-encoding" and b"gzip" in value:
                    await super().__call__(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class _FakeRequest:
    """Enough of a Request for error_response before routing has made one."""

    def __init__(self, request_id: str) -> None:
        self.state = type("S", (), {"request_id": request_id})()

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)
