"""How foredeck is served over HTTP: uvicorn, with a bound on the size of a request's head.

uvicorn's httptools parser buffers request lines and headers without limit (a 1 MiB header was
served), and its h11 parser, which has a limit, is much slower. This protocol keeps httptools
and refuses a head over MAX_HEAD_BYTES with 431 in the error envelope, as nginx and h11 do.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Request line plus all headers; browsers send a few KiB, nginx refuses past 32 KiB by default.
MAX_HEAD_BYTES = 64 * 1024
# After refusing, what the client still sends is read and dropped for this long before the
# socket closes: closing with unread data sends a reset, which can destroy the answer before
# the client reads it.
LINGER_SECONDS = 2.0


def _refusal() -> bytes:
    body = json.dumps(
        {
            "success": False,
            "error": {
                "code": "HEADERS_TOO_LARGE",
                "message": f"The request line and headers are larger than {MAX_HEAD_BYTES} bytes",
                "details": [],
                "request_id": None,
            },
        }
    ).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _HeadTooLarge(Exception):
    pass


class BoundedHeadProtocol(HttpToolsProtocol):
    """httptools with a limit on the size of a request's line and headers."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0  # received while the head is incomplete: bounds the buffering
        self._head_size = 0  # of the parsed line and headers: the exact measure
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # httptools holds an unfinished header in memory; judged after parsing, so a chunk
        # that ends the head (and carries the start of a body) is not refused for the body.
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self._refused:
            self._refuse()

    def on_message_begin(self) -> None:
        self._head_size = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._grow(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True

    def _grow(self, size: int) -> None:
        self._head_size += size
        if self._head_size > MAX_HEAD_BYTES:
            # Stops the parser; uvicorn then answers a parse error, which we turn into a 431.
            raise _HeadTooLarge

    def send_400_response(self, msg: str) -> None:
        if self._head_size > MAX_HEAD_BYTES:
            self._refuse()
        else:
            super().send_400_response(msg)

    def _refuse(self) -> None:
        self._refused = True
        if self.cycle is not None and not self.cycle.response_complete:
            # An earlier pipelined request is still answering: an answer now would interleave.
            self.transport.close()
            return
        self.transport.write(_refusal())
        if self.transport.can_write_eof():
            self.transport.write_eof()
            loop = asyncio.get_running_loop()
            loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()


def uvicorn_config(app: Any, **options: Any) -> uvicorn.Config:
    """The uvicorn configuration foredeck runs under (`foredeck serve` and the live tests)."""
    return uvicorn.Config(app, http=BoundedHeadProtocol, **options)
