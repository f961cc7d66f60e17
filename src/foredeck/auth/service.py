"""Users, passwords, tokens and API keys. Services flush; the caller commits."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from foredeck.auth import security
from foredeck.auth.schemas import Preferences, Role
from foredeck.db import transaction
from foredeck.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from foredeck.kit.roles import Principal as Principal
from foredeck.models.auth import ApiKey, User


def principal_for(user: User, via: str, api_key_id: int | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        via=via,
        api_key_id=api_key_id,
    )


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} not found")
    return user


async def get_by_username(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(User.id))) or 0)


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str | None,
    role: Role = Role.viewer,
    email: str | None = None,
    display_name: str | None = None,
    external_id: str | None = None,
) -> User:
    if await get_by_username(session, username) is not None:
        raise Conflict(f"User '{username}' already exists", code="USER_EXISTS")
    user = User(
        username=username,
        password_hash=security.hash_password(password) if password else None,
        role=role.value,
        email=email,
        display_name=display_name,
        external_id=external_id,
        preferences=Preferences().model_dump(),
    )
    session.add(user)
    await _flush_unique(session, "A user with this email or external id already exists")
    return user


def credentials_stamp(user: User) -> str | None:
    """What tokens and console sessions must carry to be accepted for this user."""
    changed = user.credentials_changed_at
    return changed.isoformat(timespec="microseconds") if changed else None


def _set_password(user: User, password: str | None) -> None:
    user.password_hash = security.hash_password(password) if password else None
    # A new stamp: every token and console session signed before now is refused.
    user.credentials_changed_at = datetime.now(UTC)


async def change_own_password(
    session: AsyncSession, user: User, *, current_password: str, new_password: str
) -> User:
    """The signed-in user's own change: proves the current password first."""
    if not security.verify_password(user.password_hash, current_password):
        raise ValidationFailed.field(
            "current_password", "The current password is wrong", code="WRONG_PASSWORD"
        )
    if current_password == new_password:
        raise ValidationFailed.field(
            "new_password", "The new password must differ from the current one"
        )
    _set_password(user, new_password)
    user.updated_at = datetime.now(UTC)
    await session.flush()
    return user


async def update_user(session: AsyncSession, user: User, changes: dict[str, Any]) -> User:
    for key, value in changes.items():
        if key == "password":
            _set_password(user, value)
        elif key == "role":
            user.role = Role(value).value
        else:
            setattr(user, key, value)
    user.updated_at = datetime.now(UTC)
    await _flush_unique(session, "A user with this email or external id already exists")
    return user


async def delete_user(session: AsyncSession, user: User) -> None:
    await session.delete(user)
    await session.flush()


async def _flush_unique(session: AsyncSession, message: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message, code="DUPLICATE") from exc


async def list_users(
    session: AsyncSession, *, offset: int, limit: int, role: str | None = None
) -> tuple[list[User], int]:
    query = select(User)
    if role:
        query = query.where(User.role == role)
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(User.id).offset(offset).limit(limit))
    return list(rows), int(total)


async def users_before(session: AsyncSession, user_id: int) -> int:
    """How many users come before this one in the list's order (by id)."""
    return int(await session.scalar(select(func.count(User.id)).where(User.id < user_id)) or 0)


async def usernames(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    """The username of each of these user ids (those that exist)."""
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {user_id: name for user_id, name in rows.all()}


async def search_users(session: AsyncSession, *, q: str, limit: int) -> list[User]:
    pattern = f"%{q.lower()}%"
    rows = await session.scalars(
        select(User)
        .where(User.is_active.is_(True))
        .where(
            or_(
                func.lower(User.username).like(pattern),
                func.lower(func.coalesce(User.display_name, "")).like(pattern),
                func.lower(func.coalesce(User.email, "")).like(pattern),
            )
        )
        .order_by(User.username)
        .limit(limit)
    )
    return list(rows)


async def authenticate(session: AsyncSession, *, username: str, password: str) -> User:
    user = await get_by_username(session, username)
    if (
        user is None
        or not user.is_active
        or not security.verify_password(user.password_hash, password)
    ):
        raise Unauthorized("Wrong username or password", code="INVALID_CREDENTIALS")
    user.last_login_at = datetime.now(UTC)
    await session.flush()
    return user


def issue_token(secret: str, user: User, ttl: int) -> tuple[str, datetime]:
    token = security.make_token(secret, user.id, credentials_stamp(user))
    return token, datetime.now(UTC) + timedelta(seconds=ttl)


async def create_api_key(
    session: AsyncSession, *, user_id: int, name: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    await get_user(session, user_id)
    material = security.new_api_key()
    key = ApiKey(
        user_id=user_id,
        name=name,
        prefix=material.prefix,
        key_hash=material.key_hash,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return key, material.secret


async def list_api_keys(session: AsyncSession, *, user_id: int | None) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if user_id is not None:
        query = query.where(ApiKey.user_id == user_id)
    return list(await session.scalars(query))


async def get_api_key(session: AsyncSession, key_id: int) -> ApiKey:
    key = await session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    return key


async def get_api_key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey:
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None:
        raise NotFound(f"API key {prefix} not found")
    return key


async def revoke_api_key(session: AsyncSession, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        await session.flush()
    return key


async def resolve_api_key(session: AsyncSession, secret: str) -> tuple[User, ApiKey]:
    prefix = security.parse_api_key_prefix(secret)
    if prefix is None:
        raise Unauthorized("The token is not valid", code="INVALID_TOKEN")
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or not secrets.compare_digest(key.key_hash, security.hash_api_key(secret)):
        raise Unauthorized("The API key is not valid", code="INVALID_API_KEY")
    now = datetime.now(UTC)
    if key.revoked_at is not None:
        raise Unauthorized("The API key has been revoked", code="API_KEY_REVOKED")
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized("The API key has expired", code="API_KEY_EXPIRED")
    user = await get_user(session, key.user_id)
    if not user.is_active:
        raise Unauthorized("The user is disabled", code="USER_DISABLED")
    # Recording every use would turn each read into a write; once a minute is enough.
    if key.last_used_at is None or now - key.last_used_at > timedelta(seconds=60):
        key.last_used_at = now
        await session.flush()
    return user, key


async def user_by_external_id(session: AsyncSession, external_id: str) -> User:
    user = await session.scalar(select(User).where(User.external_id == external_id))
    if user is None or not user.is_active:
        raise Unauthorized("No active user has this external id", code="UNKNOWN_IDENTITY")
    return user


async def bootstrap_admin(session: AsyncSession) -> tuple[str, str] | None:
    """On an empty store, make an admin and return its one-time login; otherwise None."""
    if await count_users(session) > 0:
        return None
    password = secrets.token_urlsafe(12)
    await create_user(session, username="admin", password=password, role=Role.admin)
    return "admin", password


async def first_admin(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[str, str] | None:
    """bootstrap_admin in its own transaction, for a process starting up. Replicas started
    together on one empty database race here: the one whose insert loses finds the admin made
    and starts as if it had been there (None), instead of failing its startup."""
    try:
        async with transaction(sessionmaker) as session:
            return await bootstrap_admin(session)
    except Conflict:
        return None
