"""Start-up and shutdown of the console domain, called in order from the app lifespan."""

from __future__ import annotations

from fastapi import FastAPI

from foredeck.console.hub import LiveHub


async def startup(app: FastAPI) -> None:
    if getattr(app.state, "worker_process", False):
        # A `foredeck worker` serves no console.
        return
    # The console starts last, so the pub/sub of the jobs domain already exists when it does.
    hub = LiveHub(getattr(app.state, "pubsub", None))
    await hub.start()
    app.state.console_hub = hub


async def shutdown(app: FastAPI) -> None:
    hub: LiveHub | None = getattr(app.state, "console_hub", None)
    if hub is not None:
        await hub.stop()
