"""All ORM tables, imported in one place so Alembic and the app see the same metadata."""

from foredeck.models import (
    auth,
    generator,
    index,
    jobs,
    records,
    registry,
    schedules,
    settings,
)
from foredeck.models.auth import ApiKey, User
from foredeck.models.base import Base
from foredeck.models.records import Memory

__all__ = [
    "ApiKey",
    "Base",
    "Memory",
    "User",
    "auth",
    "generator",
    "index",
    "jobs",
    "records",
    "registry",
    "schedules",
    "settings",
]
