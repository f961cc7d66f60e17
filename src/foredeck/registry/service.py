"""The registry's one read path wider than a table: task executions include job runs.

Seed 002's task_executions are what outside workers report; foredeck's own jobs record each
attempt in `job_runs` (owned by the jobs domain). Both are listed together, read-only for the
job runs, so a caller sees every execution in one place.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String, case, cast, literal, null, select, type_coerce, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.models.base import JSONType
from foredeck.models.jobs import JobRun
from foredeck.models.registry import TaskExecution

JOB_RUN_PREFIX = "job-run-"

_RUN_STATUS = {"running": "in_progress", "succeeded": "success", "failed": "failure"}


def _worker_rows() -> Any:
    te = TaskExecution.__table__.c
    return select(
        te.id,
        te.task_id,
        te.worker_id,
        te.started_at,
        te.finished_at,
        te.duration_ms,
        te.exit_code,
        te.result_data,
        te.status,
        te.created_at,
        literal("worker", String(8)).label("source"),
        type_coerce(null(), String(36)).label("job_id"),
        type_coerce(null(), String).label("error"),
    )


def _job_run_rows() -> Any:
    run = JobRun.__table__.c
    return select(
        (literal(JOB_RUN_PREFIX, String(64)) + cast(run.id, String(32))).label("id"),
        type_coerce(null(), Integer).label("task_id"),
        case((run.worker_id.is_(None), ""), else_=run.worker_id).label("worker_id"),
        run.started_at,
        run.finished_at,
        run.duration_ms,
        case((run.status == "succeeded", 0), (run.status == "failed", 1), else_=null()).label(
            "exit_code"
        ),
        type_coerce(run.result, JSONType).label("result_data"),
        case(*((run.status == k, v) for k, v in _RUN_STATUS.items()), else_="error").label(
            "status"
        ),
        run.started_at.label("created_at"),
        literal("job", String(8)).label("source"),
        run.job_id,
        run.error,
    )


def executions_source() -> Any:
    """Worker-reported executions and job runs as one subquery with TaskExecutionOut columns."""
    return union_all(_worker_rows(), _job_run_rows()).subquery("executions")


async def fetch_job_run(session: AsyncSession, item_id: Any) -> dict[str, Any] | None:
    """A job run by its task-execution id (`job-run-<n>`), or None."""
    if not str(item_id).startswith(JOB_RUN_PREFIX):
        return None
    source = executions_source()
    row = (await session.execute(select(source).where(source.c.id == str(item_id)))).mappings()
    found = row.first()
    return dict(found) if found else None
