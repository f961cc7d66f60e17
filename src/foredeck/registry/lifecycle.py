"""Start-up and shutdown of the registry domain, called in order from the app lifespan."""

from __future__ import annotations

from fastapi import FastAPI


async def startup(app: FastAPI) -> None:
    app.state.features.add("registry")


async def shutdown(app: FastAPI) -> None:
    return None
