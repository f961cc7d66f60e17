"""The request-body limit, answered so the client can read the answer.

A body whose Content-Length is over the limit gets 413 before a byte of it is read; one that
grows past the limit while it is read gets 413 from the app's HTTP error handler. Whenever an
answer is complete while the client is still sending its body, the connection is marked
`Connection: close` and the rest of the body is read and dropped (for up to LINGER_SECONDS)
before the answer ends: a server that closes with unread data sends a TCP reset, and the
client then sees "connection reset by peer" instead of the 413.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from foredeck.kit.envelope import error_response

LINGER_SECONDS = 10.0


class BodyTooLarge(HTTPException):
    """Raised from `receive` once the body passes the limit; the app answers it as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes")


async def call_with_limit(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    limit: int,
    request: object,
) -> None:
    """Run app on a request whose body may be at most limit bytes."""
    content_length = None
    chunked = expects_continue = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            content_length = value
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"expect":
            expects_continue = value.lower() == b"100-continue"
    if not chunked and content_length in (None, b"0"):
        # No body (every GET): nothing to count or drain, so nothing to wrap.
        await app(scope, receive, send)
        return

    pending = True
    asked = False
    received = 0

    async def receive_limited() -> Message:
        nonlocal pending, asked, received
        asked = True
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            pending = bool(message.get("more_body", False))
            if received > limit:
                raise BodyTooLarge(limit)
        else:
            pending = False
        return message

    async def send_lingering(message: Message) -> None:
        nonlocal pending
        # With `Expect: 100-continue` a body nobody asked for is never sent.
        if pending and not (expects_continue and not asked):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                await send({**message, "more_body": True})
                await _drain(receive)
                pending = False
                message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    if content_length is not None and content_length.isdigit() and int(content_length) > limit:
        exc = BodyTooLarge(limit)
        response = error_response(request, 413, "PAYLOAD_TOO_LARGE", str(exc.detail))
        await response(scope, receive, send_lingering)
        return
    await app(scope, receive_limited, send_lingering)


async def _drain(receive: Receive) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            while True:
                message = await receive()
                if message["type"] != "http.request" or not message.get("more_body", False):
                    return
