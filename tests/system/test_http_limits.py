"""HTTP limits of the server as `foredeck serve` runs it: an oversized head gets 431, an
oversized body 413 in the envelope, and the client can read either answer (no reset)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import httpx

from foredeck.kit.server import MAX_HEAD_BYTES
from tests.client.live import live_url

__all__ = ["live_url"]

BODY_LIMIT = 2 * 1024 * 1024  # the default max_body_bytes of the test config


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes; a reset raises (ConnectionResetError)."""
    sock.settimeout(30)
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def _split(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _request_with_header(port: int, size: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        head = f"GET /health/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: {'a' * size}"
        sock.sendall(head.encode() + b"\r\n\r\n")
        return _read_all(sock)


async def test_a_head_over_the_limit_gets_431_in_the_envelope(live_url: str) -> None:
    port = _port(live_url)
    status, _, _ = _split(await asyncio.to_thread(_request_with_header, port, 16 * 1024))
    assert status == 200
    for size in (MAX_HEAD_BYTES + 1, 1024 * 1024):
        raw = await asyncio.to_thread(_request_with_header, port, size)
        status, headers, body = _split(raw)
        assert status == 431, raw[:200]
        assert headers["connection"] == "close"
        error = json.loads(body)["error"]
        assert error["code"] == "HEADERS_TOO_LARGE"
        assert str(MAX_HEAD_BYTES) in error["message"]


def _oversized_upload(port: int, auth: str, body_size: int) -> tuple[bytes, bytes]:
    """(what came back before any body was sent, everything after sending all of it)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            (
                "POST /api/v1/memories HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                f"Authorization: {auth}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {body_size}\r\n\r\n"
            ).encode()
        )
        sock.settimeout(30)
        early = sock.recv(65536)
        chunk = b"x" * 65536
        for _ in range(body_size // len(chunk)):
            sock.sendall(chunk)  # a reset from the server would raise here
        return early, early + _read_all(sock)


async def test_a_body_declared_too_large_gets_413_before_it_is_read(
    live_url: str, admin: dict[str, str]
) -> None:
    # Far more than the socket buffers hold: a server that closed without reading the rest
    # would reset the connection while this is still being sent.
    size = 64 * 1024 * 1024
    early, raw = await asyncio.to_thread(
        _oversized_upload, _port(live_url), admin["Authorization"], size
    )
    assert early.startswith(b"HTTP/1.1 413 "), early[:100]
    status, headers, body = _split(raw)
    assert status == 413
    assert headers["connection"] == "close"
    error = json.loads(body)["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert error["request_id"]


async def test_an_oversized_body_through_httpx_reads_the_envelope(
    live_url: str, admin: dict[str, str]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(BODY_LIMIT // 65536 + 2):
            yield b"x" * 65536

    async with httpx.AsyncClient(base_url=live_url, headers=admin, timeout=30) as client:
        declared = await client.post(
            "/api/v1/memories",
            content=b"x" * (BODY_LIMIT + 1),
            headers={"Content-Type": "application/json", "Connection": "close"},
        )
        # No Content-Length: the limit is met while reading, still a 413 (not a parse error).
        streamed = await client.post(
            "/api/v1/memories",
            content=chunks(),
            headers={"Content-Type": "application/json", "Connection": "close"},
        )
    for resp in (declared, streamed):
        assert resp.status_code == 413, resp.text
        assert resp.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
