"""Start-up and shutdown of the mcp domain, called in order from the app lifespan."""

from __future__ import annotations

from fastapi import FastAPI


async def startup(app: FastAPI) -> None:
    return None


async def shutdown(app: FastAPI) -> None:
    return None
