"""Who is calling and with which role: the role gate of every protected route.

The gate is generic; how a caller proves who they are (tokens, API keys, the console's
session) is the auth domain's, whose resolver the app installs at start-up. So routers below
auth, the engine's, gate on roles without importing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from foredeck.errors import Forbidden


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"


ROLE_RANK = {Role.viewer: 0, Role.operator: 1, Role.admin: 2}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user and how they proved it."""

    user_id: int
    username: str
    role: Role
    via: str  # "token", "api_key", "header", "session"
    api_key_id: int | None = None


# The request's caller, or Unauthorized (auth.deps.request_principal).
PrincipalResolver = Callable[[Request], Awaitable[Principal]]
_resolver: PrincipalResolver | None = None


def install_resolver(resolver: PrincipalResolver) -> None:
    """Name who resolves callers (the app, once auth is there)."""
    global _resolver
    _resolver = resolver


class RoleBearer(HTTPBearer):
    """Authenticate and check the role in one dependency.

    A security-scheme dependency keeps the bearer scheme in the OpenAPI document, and doing
    the work in its own ``__call__`` spares FastAPI two levels of dependency resolution on
    every protected request (the hot path of the API benchmark).
    """

    def __init__(self, minimum: Role | None) -> None:
        super().__init__(
            auto_error=False,
            scheme_name="HTTPBearer",
            description="A token from /api/v1/auth/token or an API key",
        )
        self.minimum = minimum

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        if _resolver is None:
            raise RuntimeError("no principal resolver is installed (kit.roles.install_resolver)")
        principal = await _resolver(request)
        if self.minimum is not None and ROLE_RANK[principal.role] < ROLE_RANK[self.minimum]:
            raise Forbidden(
                f"This needs the {self.minimum.value} role; you are {principal.role.value}",
                code="INSUFFICIENT_ROLE",
            )
        return principal


def require_role(minimum: Role) -> RoleBearer:
    """A dependency that lets through callers with at least this role."""
    return RoleBearer(minimum)


CurrentUser = Annotated[Principal, Depends(RoleBearer(None))]
Viewer = Annotated[Principal, Depends(require_role(Role.viewer))]
Operator = Annotated[Principal, Depends(require_role(Role.operator))]
Admin = Annotated[Principal, Depends(require_role(Role.admin))]
