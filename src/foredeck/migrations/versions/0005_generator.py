"""dataset generator: chunks of generation jobs and merged downloads

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import foredeck.models.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "generator_chunks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("overrides", foredeck.models.base.JSONType, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", foredeck.models.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_generator_chunks_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generator_chunks")),
        sa.UniqueConstraint(
            "job_id", "chunk_index", name=op.f("uq_generator_chunks_job_id_chunk_index")
        ),
    )
    with op.batch_alter_table("generator_chunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_generator_chunks_job_id"), ["job_id"], unique=False)

    op.create_table(
        "generator_downloads",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("source_checksum", sa.String(length=64), nullable=True),
        sa.Column("merge_job_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_generator_downloads_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_generator_downloads")),
        sa.UniqueConstraint("job_id", "format", name=op.f("uq_generator_downloads_job_id_format")),
    )
    with op.batch_alter_table("generator_downloads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_generator_downloads_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("generator_downloads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generator_downloads_job_id"))

    op.drop_table("generator_downloads")
    with op.batch_alter_table("generator_chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_generator_chunks_job_id"))

    op.drop_table("generator_chunks")
