"""Start-up and shutdown of the registry domain, called in order from the app lifespan."""

from __future__ import annotations

from foredeck.kit.runtime import Runtime


async def startup(runtime: Runtime) -> None:
    runtime.features.add("registry")


async def shutdown(runtime: Runtime) -> None:
    return None
