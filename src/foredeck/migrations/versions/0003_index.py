"""embeddings and vector index

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import foredeck.models.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Full-text search over memories.content. SQLite: an external-content FTS5 table kept in step by
# triggers. PostgreSQL: a GIN index on the tsvector expression the keyword search uses.
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE memories_fts USING fts5("
    "content, content='memories', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER memories_fts_ai AFTER INSERT ON memories BEGIN "
    "INSERT INTO memories_fts(rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER memories_fts_ad AFTER DELETE ON memories BEGIN "
    "INSERT INTO memories_fts(memories_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER memories_fts_au AFTER UPDATE OF content ON memories BEGIN "
    "INSERT INTO memories_fts(memories_fts, rowid, content) "
    "VALUES ('delete', old.id, old.content); "
    "INSERT INTO memories_fts(rowid, content) VALUES (new.id, new.content); END",
    "INSERT INTO memories_fts(memories_fts) VALUES ('rebuild')",
]
PG_FTS = (
    "CREATE INDEX ix_memories_content_fts ON memories "
    "USING gin (to_tsvector('english'::regconfig, content))"
)


def upgrade() -> None:
    op.create_table(
        "embedding_vectors",
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("dimension", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("model", "content_hash", name=op.f("pk_embedding_vectors")),
    )
    op.create_table(
        "index_changes",
        sa.Column("seq", BIGINT, autoincrement=True, nullable=False),
        sa.Column("memory_id", sa.BigInteger(), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_index_changes")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("index_changes", schema=None) as batch_op:
        batch_op.create_index("ix_index_changes_created_at", ["created_at"], unique=False)
    op.create_table(
        "index_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("folder", sa.String(length=128), nullable=True),
        sa.Column("checkpoint_seq", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("dimension", sa.Integer(), nullable=True),
        sa.Column("index_type", sa.String(length=16), nullable=False),
        sa.Column("vector_count", sa.BigInteger(), nullable=False),
        sa.Column("bytes_on_disk", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_rebuild_at", foredeck.models.base.UTCDateTime(), nullable=True),
        sa.Column("last_rebuild_seconds", sa.Double(), nullable=True),
        sa.Column("updated_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_index_state")),
    )
    op.create_table(
        "embedding_retries",
        sa.Column("memory_id", BIGINT, nullable=False),
        sa.Column("next_attempt_at", foredeck.models.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["memory_id"],
            ["memories.id"],
            name=op.f("fk_embedding_retries_memory_id_memories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("memory_id", name=op.f("pk_embedding_retries")),
    )
    with op.batch_alter_table("embedding_retries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_embedding_retries_next_attempt_at", ["next_attempt_at"], unique=False
        )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        op.execute(PG_FTS)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("memories_fts_ai", "memories_fts_ad", "memories_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS memories_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_memories_content_fts")
    with op.batch_alter_table("embedding_retries", schema=None) as batch_op:
        batch_op.drop_index("ix_embedding_retries_next_attempt_at")
    op.drop_table("embedding_retries")
    op.drop_table("index_state")
    with op.batch_alter_table("index_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_index_changes_created_at")
    op.drop_table("index_changes")
    op.drop_table("embedding_vectors")
