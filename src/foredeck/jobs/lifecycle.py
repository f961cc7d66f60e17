"""Jobs start-up: engine settings, the pub/sub and the job event feeds (the app module imports
the handlers)."""

from __future__ import annotations

from fastapi import FastAPI

from foredeck.jobs.dispatch import register_publisher
from foredeck.jobs.feeds import JobFeeds
from foredeck.jobs.settings import JobSettings
from foredeck.kit.pubsub import make_pubsub


async def startup(app: FastAPI) -> None:
    if getattr(app.state, "job_settings", None) is None:
        app.state.job_settings = JobSettings()
    app.state.pubsub = make_pubsub(app.state.redis)
    await app.state.pubsub.start()
    register_publisher(app.state.engine.sync_engine, app.state.pubsub.publish)
    app.state.job_feeds = JobFeeds(app.state)
    app.state.features.update({"jobs", "locks", "pubsub"})
    # Job retention runs as the built-in `job-retention` schedule (foredeck.schedules).


async def shutdown(app: FastAPI) -> None:
    feeds = getattr(app.state, "job_feeds", None)
    if feeds is not None:
        await feeds.close()
    pubsub = getattr(app.state, "pubsub", None)
    if pubsub is not None:
        await pubsub.close()
