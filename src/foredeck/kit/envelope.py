"""The success and error envelopes of seed 001, and the handlers that write errors."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from foredeck.errors import AppError
from foredeck.kit import openapi
from foredeck.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)


class PageMeta(BaseModel):
    page: int
    per_page: int
    total: int
    total_pages: int
    # False when counting stopped at a cap: `total` (and `total_pages`) are then lower bounds.
    total_exact: bool = True


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T
    meta: dict[str, Any] | None = None


class Paged(BaseModel, Generic[T]):
    success: bool = True
    data: list[T]
    meta: PageMeta


class ErrorDetail(BaseModel):
    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)
    request_id: str | None = None


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody


def ok(data: Any, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """A success envelope as a plain dict (FastAPI validates it against the response model)."""
    return {"success": True, "data": data, "meta": meta}


def paged(
    items: list[Any], *, page: int, per_page: int, total: int, exact: bool = True
) -> dict[str, Any]:
    pages = math.ceil(total / per_page) if per_page else 0
    meta = {"page": page, "per_page": per_page, "total": total, "total_pages": pages}
    return {"success": True, "data": items, "meta": {**meta, "total_exact": exact}}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": text}
    for status, text in {
        401: "Missing or invalid credentials",
        403: "Not allowed for this role",
        404: "Not found",
        409: "Conflict with the current state",
        413: "Payload too large",
        422: "Validation error",
        429: "Rate limited",
    }.items()
}


def error_response(
    request: Any,
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None) if request is not None else None
    body = ErrorEnvelope(
        error=ErrorBody(
            code=code,
            message=message,
            details=[ErrorDetail(**d) for d in details or []],
            request_id=request_id,
        )
    )
    out_headers = dict(headers or {})
    if request_id:
        # A 500 is written outside the request-id middleware, so it sets the header itself.
        out_headers.setdefault("X-Request-ID", request_id)
    return JSONResponse(body.model_dump(), status_code=status, headers=out_headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "body")


HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
}


def install_error_handlers(app: FastAPI) -> None:
    # Here, not at the top: the client package imports this module and needs no SQLAlchemy.
    from sqlalchemy.exc import StatementError

    # The document says which errors the app answers; the hook also fixes its references.
    openapi.install(app)

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return error_response(
            request, exc.status_code, exc.code, exc.message, exc.details, exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            msg = err.get("msg", "Invalid value")
            if err.get("type") == "json_invalid":
                msg = "Malformed JSON body"
            details.append({"field": _loc_to_field(err.get("loc", ())), "message": msg})
        return error_response(request, 422, "VALIDATION_ERROR", "The request is not valid", details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ").lower()
        return error_response(request, exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(StatementError)
    async def _statement(request: Request, exc: StatementError) -> JSONResponse:
        if isinstance(exc.orig, AppError):
            # Refused while binding a statement's parameters (the JSON serializer's check).
            return await _app_error(request, exc.orig)
        raise exc  # a database error stays a server error, answered and logged below

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return error_response(
            request, 500, "INTERNAL_ERROR", "An unexpected error occurred; see the server log"
        )
