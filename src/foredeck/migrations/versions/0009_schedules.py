"""schedules: recurring jobs and the jobs each fire queued

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import foredeck.models.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("params", foredeck.models.base.JSONType, nullable=False),
        sa.Column("cron", sa.String(length=128), nullable=True),
        sa.Column("interval_seconds", sa.BigInteger(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("misfire", sa.String(length=16), nullable=False),
        sa.Column("catch_up_max", sa.Integer(), nullable=False),
        sa.Column("overlap", sa.String(length=16), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("pending_runs", sa.Integer(), nullable=False),
        sa.Column("next_fire_at", foredeck.models.base.UTCDateTime(), nullable=True),
        sa.Column("last_fire_at", foredeck.models.base.UTCDateTime(), nullable=True),
        sa.Column("last_job_id", sa.String(length=36), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=True),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_schedules_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        sa.UniqueConstraint("name", name=op.f("uq_schedules_name")),
    )
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.create_index("ix_schedules_due", ["enabled", "next_fire_at"], unique=False)

    op.create_table(
        "schedule_fires",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "schedule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("fire_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_schedule_fires_job_id_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_fires_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_fires")),
        sa.UniqueConstraint(
            "schedule_id", "fire_at", name=op.f("uq_schedule_fires_schedule_id_fire_at")
        ),
    )
    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_schedule_fires_job_id"), ["job_id"], unique=False)
        batch_op.create_index("ix_schedule_fires_schedule", ["schedule_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("schedule_fires", schema=None) as batch_op:
        batch_op.drop_index("ix_schedule_fires_schedule")
        batch_op.drop_index(batch_op.f("ix_schedule_fires_job_id"))

    op.drop_table("schedule_fires")
    with op.batch_alter_table("schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_schedules_due")

    op.drop_table("schedules")
