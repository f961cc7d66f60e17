"""PostgreSQL keyword index over the content with ASCII punctuation as spaces

Revision ID: 0011
Revises: 0010

PostgreSQL's parser keeps `J45.30`, `-78103` or `a.b` as single lexemes where SQLite's FTS5
sees two words, so identifiers matched on one database and not the other. The keyword search
now reads the content with ASCII punctuation replaced by spaces on PostgreSQL; this index is
on that same expression (the search spells it out in index.keyword.PG_DOCUMENT). SQLite is
unchanged.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NEW = (
    "CREATE INDEX ix_memories_content_words ON memories USING gin "
    "(to_tsvector('english'::regconfig, "
    "regexp_replace(content, '[!-/:-@[-`{-~]', ' ', 'g')))"
)
OLD = (
    "CREATE INDEX ix_memories_content_fts ON memories "
    "USING gin (to_tsvector('english'::regconfig, content))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_memories_content_fts")
        op.execute(NEW)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_memories_content_words")
        op.execute(OLD)
