"""Tokens, the signed-in user, preferences, user search, admin user CRUD and API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from foredeck.auth import admin as auth_admin
from foredeck.auth import service as auth_service
from foredeck.auth.deps import Admin, CurrentUser
from foredeck.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    MePatch,
    PasswordChange,
    Preferences,
    PreferencesPatch,
    Role,
    TokenRequest,
    TokenResponse,
    UserCreate,
    UserOut,
    UserPublic,
    UserUpdate,
)
from foredeck.auth.sessions import forget_user
from foredeck.kit.deps import ConfigDep, SessionDep
from foredeck.kit.envelope import Envelope, Paged, ok, paged
from foredeck.kit.pagination import Pagination
from foredeck.kit.runtime import get_runtime
from foredeck.kit.schemas import DbId

router = APIRouter(prefix="/api/v1", tags=["auth"])


@router.post("/auth/token", response_model=Envelope[TokenResponse])
async def create_token(body: TokenRequest, session: SessionDep, config: ConfigDep) -> Any:
    """Exchange a username and password for a bearer token."""
    user = await auth_service.authenticate(session, username=body.username, password=body.password)
    token, expires_at = auth_service.issue_token(
        config.resolved_secret_key, user, config.token_ttl_seconds
    )
    return ok(
        TokenResponse(
            access_token=token, expires_in=config.token_ttl_seconds, expires_at=expires_at
        )
    )


@router.get("/users/me", response_model=Envelope[UserOut], tags=["users"])
async def read_me(principal: CurrentUser, session: SessionDep) -> Any:
    """The signed-in user's profile."""
    return ok(UserOut.model_validate(await auth_service.get_user(session, principal.user_id)))


@router.patch("/users/me", response_model=Envelope[UserOut], tags=["users"])
async def update_me(body: MePatch, principal: CurrentUser, session: SessionDep) -> Any:
    """Change the signed-in user's profile fields."""
    user = await auth_service.get_user(session, principal.user_id)
    user = await auth_service.update_user(session, user, body.model_dump(exclude_unset=True))
    return ok(UserOut.model_validate(user))


@router.post("/users/me/password", response_model=Envelope[TokenResponse], tags=["users"])
async def change_password(
    body: PasswordChange,
    principal: CurrentUser,
    session: SessionDep,
    config: ConfigDep,
    request: Request,
) -> Any:
    """Change your own password. Every bearer token and console session you had before is
    refused from now on; the answer carries a fresh token. API keys stay valid."""
    user = await auth_service.get_user(session, principal.user_id)
    user = await auth_service.change_own_password(
        session,
        user,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    await forget_user(get_runtime(request).cache, user.id)
    token, expires_at = auth_service.issue_token(
        config.resolved_secret_key, user, config.token_ttl_seconds
    )
    return ok(
        TokenResponse(
            access_token=token, expires_in=config.token_ttl_seconds, expires_at=expires_at
        )
    )


@router.get("/users/me/preferences", response_model=Envelope[Preferences], tags=["users"])
async def read_preferences(principal: CurrentUser, session: SessionDep) -> Any:
    """The signed-in user's preferences."""
    user = await auth_service.get_user(session, principal.user_id)
    return ok(Preferences.model_validate(user.preferences or {}))


@router.patch("/users/me/preferences", response_model=Envelope[Preferences], tags=["users"])
async def update_preferences(
    body: PreferencesPatch, principal: CurrentUser, session: SessionDep
) -> Any:
    """Change some of the signed-in user's preferences."""
    user = await auth_service.get_user(session, principal.user_id)
    merged = Preferences.model_validate(
        {**(user.preferences or {}), **body.model_dump(exclude_unset=True, exclude_none=True)}
    )
    await auth_service.update_user(session, user, {"preferences": merged.model_dump()})
    return ok(merged)


@router.get("/users/search", response_model=Envelope[list[UserPublic]], tags=["users"])
async def search_users(
    principal: CurrentUser,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=64)],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Any:
    """Find active users by username, display name or email."""
    users = await auth_service.search_users(session, q=q, limit=limit)
    return ok([UserPublic.model_validate(u) for u in users])


@router.get("/users", response_model=Paged[UserOut], tags=["users"])
async def list_users(
    _: Admin, session: SessionDep, page: Pagination, role: Role | None = None
) -> Any:
    """All users (admin)."""
    users, total = await auth_service.list_users(
        session, offset=page.offset, limit=page.per_page, role=role.value if role else None
    )
    return paged(
        [UserOut.model_validate(u) for u in users],
        page=page.page,
        per_page=page.per_page,
        total=total,
    )


@router.post("/users", response_model=Envelope[UserOut], status_code=201, tags=["users"])
async def create_user(body: UserCreate, _: Admin, session: SessionDep) -> Any:
    """Create a user (admin)."""
    user = await auth_service.create_user(session, **body.model_dump())
    return ok(UserOut.model_validate(user))


@router.get("/users/{user_id}", response_model=Envelope[UserOut], tags=["users"])
async def get_user(user_id: DbId, _: Admin, session: SessionDep) -> Any:
    """One user (admin)."""
    return ok(UserOut.model_validate(await auth_service.get_user(session, user_id)))


@router.patch("/users/{user_id}", response_model=Envelope[UserOut], tags=["users"])
async def update_user(
    user_id: DbId, body: UserUpdate, principal: Admin, session: SessionDep, request: Request
) -> Any:
    """Change a user's role, password or profile (admin). A new password (a reset) refuses
    every token and console session the user had."""
    changes = body.model_dump(exclude_unset=True)
    user = await auth_admin.update_user(
        session, get_runtime(request).cache, principal, user_id, changes
    )
    return ok(UserOut.model_validate(user))


@router.delete("/users/{user_id}", status_code=204, tags=["users"])
async def delete_user(
    user_id: DbId, principal: Admin, session: SessionDep, request: Request
) -> None:
    """Delete a user (admin); their API keys go with them."""
    await auth_admin.delete_user(session, get_runtime(request).cache, principal, user_id)


@router.get("/api_keys", response_model=Envelope[list[ApiKeyOut]], tags=["api keys"])
async def list_api_keys(principal: CurrentUser, session: SessionDep) -> Any:
    """Your API keys; admins see everyone's."""
    keys = await auth_service.list_api_keys(session, user_id=auth_admin.key_owner_filter(principal))
    return ok([ApiKeyOut.model_validate(k) for k in keys])


@router.post(
    "/api_keys", response_model=Envelope[ApiKeyCreated], status_code=201, tags=["api keys"]
)
async def create_api_key(body: ApiKeyCreate, principal: CurrentUser, session: SessionDep) -> Any:
    """Create an API key. The secret is in this response only."""
    key, secret = await auth_admin.create_api_key(
        session, principal, name=body.name, expires_at=body.expires_at, owner_id=body.user_id
    )
    return ok(ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=secret))


@router.delete("/api_keys/{key_id}", response_model=Envelope[ApiKeyOut], tags=["api keys"])
async def revoke_api_key(
    key_id: DbId, principal: CurrentUser, session: SessionDep, request: Request
) -> Any:
    """Revoke an API key at once."""
    key = await auth_admin.revoke_api_key(session, get_runtime(request).cache, principal, key_id)
    return ok(ApiKeyOut.model_validate(key))
