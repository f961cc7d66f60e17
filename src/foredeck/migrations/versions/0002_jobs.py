"""jobs, runs, events, locks, workers, telemetry

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import foredeck.models.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = foredeck.models.base.UTCDateTime
JSON = foredeck.models.base.JSONType


def upgrade() -> None:
    op.create_table(
        "locks",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("holder_job_id", sa.String(length=36), nullable=True),
        sa.Column("holder", sa.String(length=256), nullable=True),
        sa.Column("acquired_at", UTC(), nullable=True),
        sa.Column("expires_at", UTC(), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_locks")),
    )
    op.create_table(
        "telemetry",
        sa.Column("id", PK, autoincrement=True, nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry")),
    )
    op.create_index("ix_telemetry_created_at", "telemetry", ["created_at"])
    op.create_table(
        "worker_controls",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_worker_controls")),
    )
    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("host", sa.String(length=256), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("queues", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("processed", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("current_job_id", sa.String(length=36), nullable=True),
        sa.Column("running_jobs", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("heartbeat_at", UTC(), nullable=False),
        sa.Column("stopped_at", UTC(), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workers")),
    )
    op.create_index("ix_workers_status", "workers", ["status"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("progress_done", sa.BigInteger(), nullable=False),
        sa.Column("progress_total", sa.BigInteger(), nullable=True),
        sa.Column("progress_percent", sa.Float(), nullable=True),
        sa.Column("progress_message", sa.String(length=512), nullable=True),
        sa.Column("counters", JSON, nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_traceback", sa.Text(), nullable=True),
        sa.Column("checkpoint", JSON, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("lock_keys", JSON, nullable=False),
        sa.Column("created_by", PK, nullable=True),
        sa.Column("worker_id", sa.String(length=128), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("run_after", UTC(), nullable=False),
        sa.Column("dispatched_at", UTC(), nullable=True),
        sa.Column("started_at", UTC(), nullable=True),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("heartbeat_at", UTC(), nullable=True),
        sa.Column("lease_expires_at", UTC(), nullable=True),
        sa.Column("updated_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_jobs_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_claim", "jobs", ["status", "priority", "created_at"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    op.create_index("ix_jobs_created_by", "jobs", ["created_by"])
    op.create_index("ix_jobs_kind_created", "jobs", ["kind", "created_at"])
    op.create_index("ix_jobs_kind_status_created", "jobs", ["kind", "status", "created_at"])
    op.create_index("ix_jobs_lease", "jobs", ["lease_expires_at"])
    op.create_index("ix_jobs_queue_status", "jobs", ["queue", "status"])
    op.create_index("ix_jobs_status_finished", "jobs", ["status", "finished_at"])
    op.create_table(
        "job_events",
        sa.Column("id", PK, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_events_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_events")),
    )
    op.create_index("ix_job_events_job_id", "job_events", ["job_id", "id"])
    op.create_table(
        "job_runs",
        sa.Column("id", PK, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.String(length=128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", UTC(), nullable=False),
        sa.Column("finished_at", UTC(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_job_runs_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index("ix_job_runs_job_id", "job_runs", ["job_id", "id"])


def downgrade() -> None:
    op.drop_table("job_runs")
    op.drop_table("job_events")
    op.drop_table("jobs")
    op.drop_table("workers")
    op.drop_table("worker_controls")
    op.drop_table("telemetry")
    op.drop_table("locks")
