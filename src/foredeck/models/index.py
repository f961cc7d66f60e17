"""Tables of the index domain: cached embeddings, the index change log and the index's state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from foredeck.models.base import Base, BigIntPK, utcnow


class EmbeddingVector(Base):
    """One vector per (model, content hash): an unchanged text is never embedded twice."""

    __tablename__ = "embedding_vectors"

    model: Mapped[str] = mapped_column(String(128), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[int]
    # float32, little endian, L2-normalised.
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IndexChange(Base):
    """Append-only log of vector adds and removes; every process replays it into its index."""

    __tablename__ = "index_changes"
    # AUTOINCREMENT: SQLite must never reuse a sequence number after old rows are trimmed.
    __table_args__ = (
        Index("ix_index_changes_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # No foreign key: a removal must outlive the record it removes.
    memory_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(8))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IndexState(Base):
    """The live index: which checkpoint folder is current and its figures."""

    __tablename__ = "index_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    folder: Mapped[str | None] = mapped_column(String(128))
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    model: Mapped[str | None] = mapped_column(String(128))
    dimension: Mapped[int | None]
    index_type: Mapped[str] = mapped_column(String(16), default="flat")
    vector_count: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_on_disk: Mapped[int] = mapped_column(BigInteger, default=0)
    checksum: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="ready")
    last_rebuild_at: Mapped[datetime | None]
    last_rebuild_seconds: Mapped[float | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EmbeddingRetry(Base):
    """When a record whose embedding failed may be tried again (exponential backoff)."""

    __tablename__ = "embedding_retries"
    __table_args__ = (Index("ix_embedding_retries_next_attempt_at", "next_attempt_at"),)

    memory_id: Mapped[int] = mapped_column(
        BigIntPK, ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True
    )
    next_attempt_at: Mapped[datetime]
