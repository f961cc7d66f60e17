"""What one user may do to other users and to API keys, with the after-effects on caches and
sessions. The API and the console both call these, so each rule lives here only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.auth import service as auth_service
from foredeck.auth.schemas import ROLE_RANK, Role
from foredeck.auth.service import Principal
from foredeck.auth.sessions import forget_user
from foredeck.errors import Conflict, Forbidden
from foredeck.kit.cache import Cache
from foredeck.models.auth import ApiKey, User


async def update_user(
    session: AsyncSession, cache: Cache, actor: Principal, user_id: int, changes: dict[str, Any]
) -> User:
    """Change a user's role, password, profile or active flag (admin). An admin cannot demote
    or disable themselves; a new password signs the user out everywhere."""
    user = await auth_service.get_user(session, user_id)
    if user.id == actor.user_id and (
        changes.get("role") not in (None, Role.admin) or changes.get("is_active") is False
    ):
        raise Conflict("Admins cannot demote or disable themselves", code="SELF_LOCKOUT")
    user = await auth_service.update_user(session, user, changes)
    await cache.delete_pattern("auth:*")
    await forget_user(cache, user.id)
    return user


async def delete_user(session: AsyncSession, cache: Cache, actor: Principal, user_id: int) -> None:
    """Delete a user (admin) with their API keys; never oneself."""
    if user_id == actor.user_id:
        raise Conflict("Admins cannot delete themselves", code="SELF_LOCKOUT")
    await auth_service.delete_user(session, await auth_service.get_user(session, user_id))
    await cache.delete_pattern("auth:*")


def key_owner_filter(actor: Principal) -> int | None:
    """Whose keys a listing shows: your own; an admin sees everyone's (None)."""
    return None if actor.role == Role.admin else actor.user_id


async def create_api_key(
    session: AsyncSession,
    actor: Principal,
    *,
    name: str,
    expires_at: datetime | None = None,
    owner_id: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key for yourself, or (admins only) for another user; the secret is returned once."""
    owner = owner_id or actor.user_id
    if owner != actor.user_id and ROLE_RANK[actor.role] < ROLE_RANK[Role.admin]:
        raise Forbidden("Only admins create keys for other users", code="INSUFFICIENT_ROLE")
    return await auth_service.create_api_key(
        session, user_id=owner, name=name, expires_at=expires_at
    )


async def revoke_api_key(
    session: AsyncSession, cache: Cache, actor: Principal, key_id: int
) -> ApiKey:
    """Revoke a key at once: your own, or any key for an admin."""
    key = await auth_service.get_api_key(session, key_id)
    if key.user_id != actor.user_id and actor.role != Role.admin:
        raise Forbidden("You can only revoke your own keys", code="INSUFFICIENT_ROLE")
    key = await auth_service.revoke_api_key(session, key)
    await cache.delete_pattern("auth:apikey:*")
    return key
