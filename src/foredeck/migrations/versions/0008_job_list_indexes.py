"""listing jobs at a million rows: a status + created index and a trigram text index

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The `q` filter is a substring match, so the index is over trigrams. SQLite: an external-
# content FTS5 table on the jobs' rowids. Its update trigger fires only when a searched column
# really changes: the runner writes progress_message and error with every progress flush and
# finish, mostly unchanged. Rowids of a table without an INTEGER PRIMARY KEY survive inserts
# and deletes but not a table rebuild, so a later batch migration of `jobs` (which also drops
# these triggers) must recreate them and rebuild the table.
SQLITE_TEXT = [
    "CREATE VIRTUAL TABLE jobs_fts USING fts5("
    "kind, error, progress_message, content='jobs', tokenize='trigram')",
    "CREATE TRIGGER jobs_fts_ai AFTER INSERT ON jobs BEGIN "
    "INSERT INTO jobs_fts(rowid, kind, error, progress_message) "
    "VALUES (new.rowid, new.kind, new.error, new.progress_message); END",
    "CREATE TRIGGER jobs_fts_ad AFTER DELETE ON jobs BEGIN "
    "INSERT INTO jobs_fts(jobs_fts, rowid, kind, error, progress_message) "
    "VALUES ('delete', old.rowid, old.kind, old.error, old.progress_message); END",
    "CREATE TRIGGER jobs_fts_au AFTER UPDATE OF kind, error, progress_message ON jobs "
    "WHEN old.kind IS NOT new.kind OR old.error IS NOT new.error "
    "OR old.progress_message IS NOT new.progress_message BEGIN "
    "INSERT INTO jobs_fts(jobs_fts, rowid, kind, error, progress_message) "
    "VALUES ('delete', old.rowid, old.kind, old.error, old.progress_message); "
    "INSERT INTO jobs_fts(rowid, kind, error, progress_message) "
    "VALUES (new.rowid, new.kind, new.error, new.progress_message); END",
    "INSERT INTO jobs_fts(jobs_fts) VALUES ('rebuild')",
]
# PostgreSQL: one GIN index over the three columns; ILIKE '%q%' on any of them uses it.
PG_TEXT = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_jobs_text_trgm ON jobs USING gin "
    "(kind gin_trgm_ops, error gin_trgm_ops, progress_message gin_trgm_ops)",
]


def upgrade() -> None:
    op.create_index("ix_jobs_status_created", "jobs", ["status", "created_at"], unique=False)
    statements = SQLITE_TEXT if op.get_bind().dialect.name == "sqlite" else PG_TEXT
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("jobs_fts_ai", "jobs_fts_ad", "jobs_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS jobs_fts")
    else:
        # pg_trgm stays: other objects may have come to use it.
        op.execute("DROP INDEX IF EXISTS ix_jobs_text_trgm")
    op.drop_index("ix_jobs_status_created", table_name="jobs")
