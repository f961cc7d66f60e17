"""Records (seed 001's "memories"): the text the store holds and searches."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from foredeck.models.base import Base, BigIntPK, TimestampMixin

EMBEDDING_STATES = ("pending", "embedded", "failed")


class Memory(TimestampMixin, Base):
    __tablename__ = "memories"
    __table_args__ = (
        UniqueConstraint("collection", "external_id"),
        Index("ix_memories_collection_created", "collection", "created_at"),
        Index("ix_memories_embedding_state", "embedding_state", "id"),
        Index("ix_memories_memory_type", "memory_type"),
        Index("ix_memories_owner_id", "owner_id"),
        Index("ix_memories_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    content: Mapped[str] = mapped_column(Text)
    memory_type: Mapped[str] = mapped_column(String(32), default="note")
    collection: Mapped[str] = mapped_column(String(128), default="default")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    external_id: Mapped[str | None] = mapped_column(String(256))
    content_hash: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    embedding_state: Mapped[str] = mapped_column(String(16), default="pending")
    embedding_error: Mapped[str | None] = mapped_column(Text)
    embedding_attempts: Mapped[int] = mapped_column(default=0)
    embedded_at: Mapped[datetime | None]
