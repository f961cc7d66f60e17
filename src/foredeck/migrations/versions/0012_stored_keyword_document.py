"""PostgreSQL: the keyword document stored as a generated column, the GIN index on it

Revision ID: 0012
Revises: 0011

Ranking (`ts_rank_cd`) and hybrid's every-word check among the semantic pool read each row's
tsvector; with only an expression index PostgreSQL rebuilt it from the content for every row
it ranked (236 ms for three words 1,805 records hold at 100k records, bench/RESULTS.md). The
column holds the same expression as index 0011, so which records match does not change;
insert and update compute it once, as the expression index did. SQLite (FTS5) is unchanged.
Adding a stored column rewrites the table once.
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

DOCUMENT = "to_tsvector('english'::regconfig, regexp_replace(content, '[!-/:-@[-`{-~]', ' ', 'g'))"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"ALTER TABLE memories ADD COLUMN content_words tsvector "
            f"GENERATED ALWAYS AS ({DOCUMENT}) STORED"
        )
        op.execute("DROP INDEX IF EXISTS ix_memories_content_words")
        op.execute("CREATE INDEX ix_memories_content_words ON memories USING gin (content_words)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_memories_content_words")
        op.execute("ALTER TABLE memories DROP COLUMN content_words")
        op.execute(f"CREATE INDEX ix_memories_content_words ON memories USING gin ({DOCUMENT})")
