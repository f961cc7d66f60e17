"""Tables of the generator domain: the chunks of generation jobs and their merged downloads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from foredeck.models.base import Base, BigIntPK, TimestampMixin


class GeneratorChunk(TimestampMixin, Base):
    """One chunk file of a `generate` job; its checksum proves a regenerated chunk is identical."""

    __tablename__ = "generator_chunks"
    __table_args__ = (UniqueConstraint("job_id", "chunk_index"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    chunk_index: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(64))
    # Seed and field overrides a chunk was (re)generated with; None means the job's own.
    overrides: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None]


class GeneratorDownload(TimestampMixin, Base):
    """A merged dataset file of one format; stale once the chunks' checksums change."""

    __tablename__ = "generator_downloads"
    __table_args__ = (UniqueConstraint("job_id", "format"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    format: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="merging")
    path: Mapped[str | None] = mapped_column(String(1000))
    rows: Mapped[int | None] = mapped_column(BigInteger)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(64))
    # sha256 over the chunk checksums the file was merged from.
    source_checksum: Mapped[str | None] = mapped_column(String(64))
    merge_job_id: Mapped[str | None] = mapped_column(String(36))
    error: Mapped[str | None] = mapped_column(Text)
