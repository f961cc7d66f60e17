"""A typed Python client for the foredeck API (httpx, sync and async).

    from foredeck.client import Client
    with Client("http://127.0.0.1:8000", token="fdk_...") as fd:
        project = fd.create_project({"name": "site", "modules": ["api"]})
        page = fd.list_projects(status="created")

Every API operation is a method (see `OPERATIONS`); request bodies take the models of
`foredeck.contracts` or plain dicts, and responses come back as those models: the envelope's
`data` for single results, the whole `Paged[...]` for lists. Uploads take a path or a file
object (`start_import(file="notes.csv", collection="crm")`); a file download is streamed to
`to=` a path or a file object. Errors raise `ForedeckError` with the envelope's status,
code, message and details.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from foredeck.client import transfer
from foredeck.client._generated import OPERATIONS, AsyncOperations, SyncOperations
from foredeck.client.transfer import Destination, Progress, Upload

DEFAULT_URL = "http://127.0.0.1:8000"


class ForedeckError(Exception):
    """An error envelope from the server (or a non-JSON failure)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id


def _headers(token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
    headers = {"Accept": "application/json", **(extra or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _options(
    url: str | None, token: str | None, headers: dict[str, str] | None, timeout: float
) -> tuple[str, dict[str, Any]]:
    """The base URL and httpx options, with FOREDECK_URL / FOREDECK_TOKEN as defaults."""
    base = url or os.environ.get("FOREDECK_URL") or DEFAULT_URL
    token = token or os.environ.get("FOREDECK_TOKEN")
    return base, {"base_url": base, "headers": _headers(token, headers), "timeout": timeout}


def _url(path: str, path_params: dict[str, Any]) -> str:
    return path.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})


def _query(query: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in query.items():
        if value is None:
            continue
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = value
    return out


def _json(body: Any) -> Any:
    if hasattr(body, "model_dump"):
        # Only what the caller set, so a partial update changes only those fields.
        return body.model_dump(mode="json", exclude_unset=True)
    return body


@contextmanager
def _request(
    method: str,
    template: str,
    *,
    path: dict[str, Any],
    query: dict[str, Any],
    json: Any = None,
    upload: dict[str, Any] | None = None,
    form: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """The httpx.request arguments of one generated call (files to upload open meanwhile)."""
    with transfer.multipart(upload, form, has_json=json is not None) as (files, data):
        yield {
            "method": method,
            "url": _url(template, path),
            "params": _query(query),
            "json": _json(json) if json is not None else None,
            "files": files,
            "data": data,
        }


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        err = resp.json()["error"]
        raise ForedeckError(
            resp.status_code,
            err.get("code", "HTTP_ERROR"),
            err.get("message", resp.reason_phrase),
            err.get("details"),
            err.get("request_id"),
        )
    except (ValueError, KeyError, TypeError):
        raise ForedeckError(resp.status_code, "HTTP_ERROR", resp.text[:500]) from None


def _result(resp: httpx.Response, result: Any, unwrap: bool, kind: str) -> Any:
    _raise_for(resp)
    if kind == "empty":
        return None
    if kind == "raw":
        return resp
    payload = resp.json()
    if unwrap:
        payload = payload["data"]
    if result is None:
        return payload
    return TypeAdapter(result).validate_python(payload)


class Client(SyncOperations):
    """Synchronous client; `url` and `token` default to FOREDECK_URL and FOREDECK_TOKEN."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url, options = _options(url, token, headers, timeout)
        self.http = httpx.Client(**options, transport=transport)

    def _call(
        self,
        method: str,
        template: str,
        *,
        result: Any = None,
        unwrap: bool = False,
        kind: str = "json",
        to: Destination | None = None,
        progress: Progress | None = None,
        **request: Any,
    ) -> Any:
        with _request(method, template, **request) as args:
            if to is None:
                return _result(self.http.request(**args), result, unwrap, kind)
            with self.http.stream(**args) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    _raise_for(resp)
                transfer.save(resp, to, progress)
            return resp

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(AsyncOperations):
    """Asynchronous client; `url` and `token` default to FOREDECK_URL and FOREDECK_TOKEN."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, options = _options(url, token, headers, timeout)
        self.http = httpx.AsyncClient(**options, transport=transport)

    async def _call(
        self,
        method: str,
        template: str,
        *,
        result: Any = None,
        unwrap: bool = False,
        kind: str = "json",
        to: Destination | None = None,
        progress: Progress | None = None,
        **request: Any,
    ) -> Any:
        with _request(method, template, **request) as args:
            if to is None:
                return _result(await self.http.request(**args), result, unwrap, kind)
            async with self.http.stream(**args) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    _raise_for(resp)
                await transfer.asave(resp, to, progress)
            return resp

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


__all__ = [
    "OPERATIONS",
    "AsyncClient",
    "Client",
    "Destination",
    "ForedeckError",
    "Progress",
    "Upload",
]
