"""The embedded database's write-ahead log does not keep the size of the largest write."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from foredeck import db
from foredeck.config import Config


def test_the_wal_shrinks_back_after_a_large_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 256 * 1024
    monkeypatch.setattr(db, "WAL_SIZE_LIMIT", limit)
    config = Config(data_dir=tmp_path)
    engine = db.make_sync_sqlite_engine(config)
    wal = Path(str(engine.url.database) + "-wal")
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE t (b BLOB)"))
            conn.commit()
            # One transaction of ~4 MiB, as a bulk import commits its rows at once.
            for _ in range(64):
                conn.execute(text("INSERT INTO t VALUES (randomblob(65536))"))
            conn.commit()
            grown = wal.stat().st_size
            assert grown > 4 * 1024 * 1024
            conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
            # The next write starts the log over and cuts the file back to the limit.
            conn.execute(text("INSERT INTO t VALUES (x'00')"))
            conn.commit()
        assert wal.stat().st_size <= limit
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 65
    finally:
        engine.dispose()
