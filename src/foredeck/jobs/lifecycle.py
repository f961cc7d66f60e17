"""Jobs start-up: engine settings, the pub/sub, the handler registry and job retention."""

from __future__ import annotations

from fastapi import FastAPI

from foredeck.jobs import deletion, periodic
from foredeck.jobs.dispatch import register_publisher
from foredeck.jobs.registry import load_handlers
from foredeck.jobs.settings import JobSettings
from foredeck.jobs.tasks import stop_tasks
from foredeck.telemetry.pubsub import make_pubsub

# Retention works in days: an hourly round keeps the table within an hour of the setting.
RETENTION_SECONDS = 3600.0


async def startup(app: FastAPI) -> None:
    if getattr(app.state, "job_settings", None) is None:
        app.state.job_settings = JobSettings()
    app.state.pubsub = make_pubsub(app.state.redis)
    await app.state.pubsub.start()
    register_publisher(app.state.engine.sync_engine, app.state.pubsub.publish)
    load_handlers()
    app.state.features.update({"jobs", "locks", "pubsub"})
    app.state.job_retention = None
    # Celery worker processes only run jobs; the serving processes keep the table trimmed.
    if not getattr(app.state, "worker_process", False):
        state = app.state
        app.state.job_retention = periodic.start(
            lambda: deletion.sweep_by_settings(state), every=RETENTION_SECONDS, name="job-retention"
        )


async def shutdown(app: FastAPI) -> None:
    await stop_tasks(getattr(app.state, "job_retention", None))
    pubsub = getattr(app.state, "pubsub", None)
    if pubsub is not None:
        await pubsub.close()
