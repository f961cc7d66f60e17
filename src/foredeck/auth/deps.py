"""Who is calling, and may they: dependencies for every protected route."""

from __future__ import annotations

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.auth import security
from foredeck.auth import service as auth_service
from foredeck.auth.service import Principal
from foredeck.errors import Unauthorized
from foredeck.kit.deps import LazySession

# The role gates live in kit.roles (the engine's routers use them too); auth's routers and the
# domains keep importing them from here, with the rest of auth.
from foredeck.kit.roles import (
    Admin,
    CurrentUser,
    Operator,
    Role,
    RoleBearer,
    Viewer,
    require_role,
)
from foredeck.kit.runtime import get_runtime

__all__ = [
    "Admin",
    "CurrentUser",
    "Operator",
    "RoleBearer",
    "Viewer",
    "current_principal",
    "request_principal",
    "require_role",
    "resolve_principal",
]

API_KEY_CACHE_TTL = 30.0


def _api_key_cache_key(secret: str) -> str:
    return f"auth:apikey:{security.hash_api_key(secret)}"


async def _cached_api_key(request: Request, secret: str) -> Principal | None:
    hit = await get_runtime(request).cache.get(_api_key_cache_key(secret))
    return None if hit is None else Principal(**{**hit, "role": Role(hit["role"])})


async def _principal_from_api_key(
    request: Request, session: AsyncSession, secret: str
) -> Principal:
    principal = await _cached_api_key(request, secret)
    if principal is not None:
        return principal
    user, key = await auth_service.resolve_api_key(session, secret)
    principal = auth_service.principal_for(user, "api_key", key.id)
    await get_runtime(request).cache.set(
        _api_key_cache_key(secret),
        {**principal.__dict__, "role": principal.role.value},
        API_KEY_CACHE_TTL,
    )
    return principal


async def resolve_principal(
    request: Request,
    session: AsyncSession,
    credentials: HTTPAuthorizationCredentials | None,
) -> Principal:
    """Bearer token, API key or (when enabled) a trusted gateway header."""
    config = get_runtime(request).config
    if credentials is not None:
        secret = credentials.credentials
        if secret.startswith(security.API_KEY_PREFIX):
            return await _principal_from_api_key(request, session, secret)
        user_id, stamp = security.read_token(
            config.resolved_secret_key, secret, config.token_ttl_seconds
        )
        user = await session.get(auth_service.User, user_id)
        if user is None or not user.is_active:
            raise Unauthorized("The token's user no longer exists or is disabled")
        if stamp != auth_service.credentials_stamp(user):
            raise Unauthorized(
                "The token was issued before the password changed", code="TOKEN_REVOKED"
            )
        return auth_service.principal_for(user, "token")
    console_user = getattr(request.state, "console_principal", None)
    if console_user is not None:
        return console_user  # type: ignore[no-any-return]
    if config.trusted_header_auth:
        external_id = request.headers.get(config.trusted_header_name)
        if external_id:
            user = await auth_service.user_by_external_id(session, external_id)
            return auth_service.principal_for(user, "header")
    raise Unauthorized("Authentication required", headers={"WWW-Authenticate": "Bearer"})


# Parses the Authorization header only; the role check is kit.roles.RoleBearer's.
_BEARER = HTTPBearer(auto_error=False)


async def request_principal(request: Request) -> Principal:
    """The caller of a protected route: the resolver the app installs in kit.roles."""
    principal = await _cached_api_key_principal(request)
    if principal is None:
        credentials = await _BEARER(request)
        principal = await current_principal(request, credentials)
    return principal


async def _cached_api_key_principal(request: Request) -> Principal | None:
    """The hot path: an API key already in the cache, with no credentials model or session.

    Anything else (a token, a key not cached yet, a malformed header) returns None and takes
    the general path, which also produces the errors."""
    authorization = request.headers.get("authorization")
    if not authorization or authorization[:7].lower() != "bearer ":
        return None
    secret = authorization[7:].strip()
    if not secret.startswith(security.API_KEY_PREFIX):
        return None
    principal = await _cached_api_key(request, secret)
    if principal is not None:
        request.state.principal = principal
    return principal


async def current_principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    # Its own short unit of work: a cached API key then costs no database session at all.
    async with LazySession(get_runtime(request).sessionmaker) as session:
        principal = await resolve_principal(request, session, credentials)
    request.state.principal = principal
    return principal
