"""Tuning of the job engine, read from FOREDECK_ environment variables."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from foredeck.kit.runtime import Part


class JobSettings(BaseSettings):
    """Intervals and limits of executors, locks, workers and telemetry (seconds unless named)."""

    model_config = SettingsConfigDict(env_prefix="FOREDECK_", env_file=None, extra="ignore")

    # A running job renews its lease every lease/3; a lease that runs out marks it lost.
    job_lease_seconds: float = Field(default=30.0, gt=0)
    # Lost workers do not spend a job's attempts; after this many losses the job fails.
    job_max_worker_losses: int = Field(default=3, ge=1)
    # Idle executors look for due jobs this often even when nothing woke them.
    job_poll_seconds: float = Field(default=1.0, gt=0)
    # Backoff between attempts: base * 2**(attempt-1), capped, with +-25 % jitter.
    job_retry_base_seconds: float = Field(default=2.0, ge=0)
    job_retry_max_seconds: float = Field(default=300.0, ge=0)
    # Per-kind wall-clock limit of one attempt, e.g. FOREDECK_JOB_TIME_LIMITS='{"export": 3600}';
    # it overrides the kind's own default (job_handler(time_limit=...)). Paused time counts.
    job_time_limits: dict[str, float] = Field(default_factory=dict)
    # How often a handler's ctx.check() reads pause/cancel state from the database.
    job_check_seconds: float = Field(default=0.25, ge=0)
    # Progress rows are written at most this often per job (the final one always).
    job_progress_seconds: float = Field(default=0.25, ge=0)
    worker_heartbeat_seconds: float = Field(default=5.0, gt=0)
    # A lock taken in code with operation_lock() is leased this long and renewed while held.
    lock_lease_seconds: float = Field(default=30.0, gt=0)
    telemetry_interval_seconds: float = Field(default=5.0, gt=0)
    telemetry_retention_hours: float = Field(default=24.0, gt=0)
    sse_max_seconds: float = Field(default=300.0, gt=0)
    sse_ping_seconds: float = Field(default=15.0, gt=0)
    # Worker name in the workers table; stable across restarts so pauses stick.
    worker_name: str | None = None
    # Celery mode: send due queued jobs that nobody picked up after this long again.
    dispatch_resend_seconds: float = Field(default=30.0, gt=0)

    @field_validator("job_time_limits")
    @classmethod
    def _positive_limits(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(kind for kind, seconds in value.items() if not seconds > 0)
        if bad:
            raise ValueError(f"time limits must be more than 0 seconds: {', '.join(bad)}")
        return value

    def time_limit(self, kind: str, default: float | None) -> float | None:
        """The limit of one attempt of this kind, or None for none."""
        return self.job_time_limits.get(kind, default)


# The engine's tuning, on the runtime from the jobs start-up on (the CLI sets its own).
JOB_SETTINGS: Part[JobSettings] = Part("job_settings")
