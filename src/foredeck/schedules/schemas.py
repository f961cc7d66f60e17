"""Schedule DTOs: what a client sends to create or change a schedule, and what it reads."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from foredeck.kit.schemas import PatchBody, ReadModel, StrictBody

Misfire = Literal["skip", "run_once", "catch_up"]
Overlap = Literal["skip", "queue"]
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.:-]*$"


class ScheduleCreate(StrictBody):
    """A job kind, its params, and a cron expression or an interval (exactly one)."""

    name: str = Field(min_length=1, max_length=128, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=2000)
    kind: str = Field(min_length=1, max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)
    cron: str | None = Field(
        default=None, max_length=128, description="Five fields (min hour day month weekday)"
    )
    interval_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)
    timezone: str = Field(default="UTC", max_length=64, description="IANA zone, e.g. Europe/Berlin")
    enabled: bool = True
    misfire: Misfire = Field(
        default="run_once",
        description="After downtime past several fires: skip them, run once, or catch up",
    )
    catch_up_max: int = Field(default=1, ge=1, le=100, description="misfire=catch_up: at most N")
    overlap: Overlap = Field(
        default="skip",
        description="While the previous run is active or its lock is held: skip, or queue",
    )


class ScheduleUpdate(PatchBody):
    """Fields to change; the next fire time is computed again from now."""

    name: str | None = Field(default=None, min_length=1, max_length=128, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=2000)
    params: dict[str, Any] | None = None
    cron: str | None = Field(default=None, max_length=128)
    interval_seconds: int | None = Field(default=None, ge=1, le=366 * 86400)
    timezone: str | None = Field(default=None, max_length=64)
    enabled: bool | None = None
    misfire: Misfire | None = None
    catch_up_max: int | None = Field(default=None, ge=1, le=100)
    overlap: Overlap | None = None


class ScheduleRead(ReadModel):
    id: int
    name: str
    description: str | None
    kind: str
    params: dict[str, Any]
    cron: str | None
    interval_seconds: int | None
    timezone: str
    enabled: bool
    misfire: Misfire
    catch_up_max: int
    overlap: Overlap
    builtin: bool
    next_fire_at: datetime | None
    last_fire_at: datetime | None
    last_job_id: str | None
    last_outcome: str | None
    last_message: str | None
    # The last job's own status now (succeeded, failed, running, ...); None once it is deleted.
    last_job_status: str | None = None
    created_at: datetime
    updated_at: datetime


class ScheduleRun(ReadModel):
    """A job a schedule queued, with the fire time it was queued for."""

    job_id: str
    fire_at: datetime
    manual: bool
    status: str
    created_at: datetime
    finished_at: datetime | None
    error: str | None
