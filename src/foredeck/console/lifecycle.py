"""Start-up and shutdown of the console domain, called in order from the app lifespan."""

from __future__ import annotations

from foredeck.console.hub import CONSOLE_HUB, LiveHub
from foredeck.kit.runtime import Runtime


async def startup(runtime: Runtime) -> None:
    if runtime.worker_process:
        # A `foredeck worker` serves no console.
        return
    # The console starts last, so the pub/sub of the jobs domain already exists when it does.
    hub = LiveHub(runtime.pubsub)
    await hub.start()
    runtime[CONSOLE_HUB] = hub


async def shutdown(runtime: Runtime) -> None:
    hub: LiveHub | None = runtime.get(CONSOLE_HUB)
    if hub is not None:
        await hub.stop()
