"""Operator settings: one row per section, metadata only (secrets stay in files on disk)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from foredeck.models.base import Base, TimestampMixin


class Setting(TimestampMixin, Base):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # sha256 of the canonical JSON, so a client can tell whether a section changed.
    checksum: Mapped[str] = mapped_column(String(64))
    # When the stored value last passed its full validation (None: stored without a remote check).
    validated_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(64))
