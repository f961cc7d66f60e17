"""One error family; handlers in kit.envelope turn it into the standard error envelope."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class AppError(Exception):
    status_code = 400
    code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.headers = headers or {}
        if code:
            self.code = code


class ValidationFailed(AppError):
    status_code = 422
    code = "VALIDATION_ERROR"

    @classmethod
    def field(cls, field: str, message: str, *, code: str | None = None) -> ValidationFailed:
        return cls(message, details=[{"field": field, "message": message}], code=code)

    @classmethod
    def from_pydantic(
        cls,
        exc: ValidationError,
        message: str = "The request is not valid",
        *,
        prefix: str = "",
        empty: str = "",
    ) -> ValidationFailed:
        """The standard 422 with one detail per Pydantic error (see `pydantic_details`)."""
        return cls(message, details=pydantic_details(exc, prefix=prefix, empty=empty))


def pydantic_details(
    exc: ValidationError, *, prefix: str = "", empty: str = ""
) -> list[dict[str, str]]:
    """Pydantic's errors as envelope details: the dotted location after `prefix`, or `empty`
    for an error of the whole value (a model validator's, which has no location)."""
    details = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        details.append({"field": f"{prefix}{loc}" if loc else empty, "message": err["msg"]})
    return details


class Unauthorized(AppError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(AppError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(AppError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(AppError):
    status_code = 409
    code = "CONFLICT"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(AppError):
    status_code = 429
    code = "RATE_LIMITED"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"
