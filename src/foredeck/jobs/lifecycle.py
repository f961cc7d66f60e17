"""Jobs start-up: engine settings, the pub/sub and the job event feeds (the app module imports
the handlers)."""

from __future__ import annotations

from foredeck.jobs.dispatch import register_publisher
from foredeck.jobs.feeds import JOB_FEEDS, JobFeeds
from foredeck.jobs.settings import JOB_SETTINGS, JobSettings
from foredeck.kit.pubsub import make_pubsub
from foredeck.kit.runtime import Runtime


async def startup(runtime: Runtime) -> None:
    if runtime.get(JOB_SETTINGS) is None:
        runtime[JOB_SETTINGS] = JobSettings()
    runtime.pubsub = make_pubsub(runtime.redis)
    await runtime.pubsub.start()
    register_publisher(runtime.engine.sync_engine, runtime.pubsub.publish)
    runtime[JOB_FEEDS] = JobFeeds(runtime)
    runtime.features.update({"jobs", "locks", "pubsub"})
    # Job retention runs as the built-in `job-retention` schedule (foredeck.schedules).


async def shutdown(runtime: Runtime) -> None:
    feeds = runtime.pop(JOB_FEEDS)
    if feeds is not None:
        await feeds.close()
    pubsub = runtime.pubsub
    if pubsub is not None:
        await pubsub.close()
