"""Contracts of the auth and users endpoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from foredeck.kit.roles import ROLE_RANK as ROLE_RANK
from foredeck.kit.roles import Role as Role
from foredeck.kit.schemas import ReadModel, StrictBody


class TokenRequest(StrictBody):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    expires_at: datetime


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")

    theme: Literal["system", "light", "dark"] = "system"
    language: str = Field(default="en", min_length=2, max_length=16)
    email_notifications: bool = True
    push_notifications: bool = False


class PreferencesPatch(StrictBody):
    theme: Literal["system", "light", "dark"] | None = None
    language: str | None = Field(default=None, min_length=2, max_length=16)
    email_notifications: bool | None = None
    push_notifications: bool | None = None


class UserOut(ReadModel):
    id: int
    username: str
    email: str | None
    display_name: str | None
    first_name: str | None
    last_name: str | None
    avatar_url: str | None
    role: Role
    external_id: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None


class UserPublic(ReadModel):
    """What any signed-in user may see of another (user search)."""

    id: int
    username: str
    display_name: str | None
    avatar_url: str | None


class MePatch(StrictBody):
    display_name: str | None = Field(default=None, max_length=128)
    avatar_url: str | None = Field(default=None, max_length=512, pattern=r"^https?://")
    first_name: str | None = Field(default=None, max_length=64)
    last_name: str | None = Field(default=None, max_length=64)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class PasswordChange(StrictBody):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class UserCreate(StrictBody):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str | None = Field(default=None, min_length=8, max_length=256)
    role: Role = Role.viewer
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str | None = Field(default=None, max_length=128)
    external_id: str | None = Field(default=None, max_length=128)


class UserUpdate(StrictBody):
    password: str | None = Field(default=None, min_length=8, max_length=256)
    role: Role | None = None
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str | None = Field(default=None, max_length=128)
    external_id: str | None = Field(default=None, max_length=128)
    is_active: bool | None = None


class ApiKeyCreate(StrictBody):
    name: str = Field(min_length=1, max_length=128)
    expires_at: datetime | None = Field(
        default=None, description="When the key stops working (UTC when no offset is given)"
    )
    user_id: int | None = Field(default=None, description="Admins may create keys for others")

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value <= datetime.now(UTC):
            raise ValueError("must be in the future")
        return value


class ApiKeyOut(ReadModel):
    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret, shown once and never again")
