"""`foredeck jobs` and `foredeck workers` against a data dir of their own (no server)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from foredeck.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_jobs_and_workers_cli(tmp_path: Path) -> None:
    data = str(tmp_path)
    # `foredeck index`-style commands run jobs in-process; here the job engine itself is used.
    import asyncio

    from foredeck import migrate
    from foredeck.config import Config
    from foredeck.db import make_engine, make_sessionmaker, transaction
    from foredeck.jobs import service as jobs_service

    config = Config(data_dir=tmp_path)
    migrate.upgrade(config)

    async def make() -> str:
        engine = make_engine(config)
        try:
            async with transaction(make_sessionmaker(engine)) as session:
                job = await jobs_service.create_job(session, kind="test", params={"count": 2})
                return job.id
        finally:
            await engine.dispose()

    job_id = asyncio.run(make())
    code, out = invoke("jobs", "list", "--json", "--data-dir", data)
    assert code == 0, out
    assert [j["id"] for j in json.loads(out)] == [job_id]
    code, out = invoke("jobs", "show", job_id, "--data-dir", data)
    assert code == 0 and "queued" in out
    code, out = invoke("jobs", "cancel", job_id, "--data-dir", data)
    assert code == 0 and "cancelled" in out
    code, out = invoke("jobs", "cancel", job_id, "--data-dir", data)
    assert code == 1 and "INVALID_JOB_STATE" in out
    code, out = invoke("jobs", "retry", job_id, "--data-dir", data)
    assert code == 0 and "queued" in out
    code, out = invoke("jobs", "show", "nope", "--data-dir", data)
    assert code == 1 and "NOT_FOUND" in out
    code, out = invoke("workers", "drain", "--data-dir", data)
    assert code == 0 and "draining" in out
    code, out = invoke("workers", "list", "--data-dir", data)
    assert code == 0 and "drain" in out
    code, out = invoke("workers", "drain", "--off", "--data-dir", data)
    assert code == 0 and "ended" in out
    code, out = invoke("workers", "pause", "--data-dir", data)
    assert code == 0
    code, out = invoke("workers", "resume", "--data-dir", data)
    assert code == 0
    # watch follows the event stream of a job to its end (here: one that is already over).
    code, out = invoke("jobs", "cancel", job_id, "--data-dir", data)
    assert code == 0
    code, out = invoke("jobs", "watch", job_id, "--data-dir", data)
    assert code == 1 and "cancelled" in out and "status" in out
