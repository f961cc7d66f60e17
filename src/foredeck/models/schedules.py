"""Tables of schedules: recurring jobs stored in the database, and the jobs each fire made."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from foredeck.models.base import Base, BigIntPK, TimestampMixin

MISFIRE_POLICIES = ("skip", "run_once", "catch_up")
OVERLAP_POLICIES = ("skip", "queue")


class Schedule(TimestampMixin, Base):
    """A job kind with its params and when to queue it (a cron expression or an interval)."""

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_due", "enabled", "next_fire_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    cron: Mapped[str | None] = mapped_column(String(128))
    interval_seconds: Mapped[int | None] = mapped_column(BigInteger)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(default=True)
    misfire: Mapped[str] = mapped_column(String(16), default="run_once")
    catch_up_max: Mapped[int] = mapped_column(default=1)
    overlap: Mapped[str] = mapped_column(String(16), default="skip")
    # Built-in schedules (the retention sweeps) can be paused or re-timed, not deleted.
    builtin: Mapped[bool] = mapped_column(default=False)
    # Raised by every fire and every edit: a claim names the revision it read, so two
    # processes (or a fire and an edit) racing for one row cannot both win.
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    # Runs owed but not queued yet: catch-up runs of a kind whose lock allows one at a time,
    # or fires held back (overlap=queue) while the previous run holds the lock.
    pending_runs: Mapped[int] = mapped_column(default=0)
    next_fire_at: Mapped[datetime | None]
    last_fire_at: Mapped[datetime | None]
    last_job_id: Mapped[str | None] = mapped_column(String(36))
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    last_message: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class ScheduleFire(Base):
    """One job a schedule queued; it goes when its job is deleted (retention included)."""

    __tablename__ = "schedule_fires"
    __table_args__ = (
        # A second claim of the same fire time cannot write a second row.
        UniqueConstraint("schedule_id", "fire_at"),
        Index("ix_schedule_fires_schedule", "schedule_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    fire_at: Mapped[datetime]
    manual: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


__all__ = ["MISFIRE_POLICIES", "OVERLAP_POLICIES", "Schedule", "ScheduleFire"]
