"""HTTP routes of the console domain: pages under /ui, the live stream, static files."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from foredeck.console import sse
from foredeck.console.pages import (
    api_keys,
    auth,
    datasets,
    exports,
    imports,
    index,
    jobs,
    overview,
    queue,
    records,
    registry,
    schedules,
    settings,
    users,
    workers,
)
from foredeck.console.session import ConsoleSessionMiddleware

router = APIRouter(include_in_schema=False)
for module in (
    auth,
    sse,
    overview,
    records,
    jobs,
    workers,
    settings,
    index,
    queue,
    imports,
    exports,
    datasets,
    schedules,
    users,
    api_keys,
    registry,
):
    router.include_router(module.router)


@router.get("/")
async def root() -> RedirectResponse:
    """The console lives under /ui; the bare address leads there."""
    return RedirectResponse("/ui/", status_code=307)


def mount(app: FastAPI) -> None:
    """Static files and the session middleware (innermost, so request ids are already set)."""
    static = Path(__file__).parent / "static"
    app.mount("/ui/static", StaticFiles(directory=static), name="console-static")
    app.add_middleware(ConsoleSessionMiddleware, fastapi_app=app)
