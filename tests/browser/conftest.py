"""One Chromium for the session, one live server, pages signed in per role."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright, expect

from foredeck.config import Config
from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.workers import service as workers_service
from foredeck.workers.parts import EXECUTOR
from tests.conftest import PASSWORD
from tests.console.helpers import new_user
from tests.console.server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
# A dev dependency (package.json devDependencies): tests load it; the console never serves it.
AXE = ROOT / "node_modules/axe-core/axe.min.js"
SCREENSHOTS = ROOT / "docs/screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The live server shares two cores with the test process and with earlier tests' background
# jobs: a form re-render has taken over Playwright's default 5 s there. Assertions still
# wait for a condition, never for a fixed time.
expect.set_options(timeout=20_000)


# Package scope: a second app runs its own worker pool on the shared database; later
# packages expect the session app's pool to be the only one.
@pytest.fixture(scope="package")
async def live(app: FastAPI, config: Config) -> AsyncIterator[LiveServer]:
    """The server the browser talks to; only its pool runs jobs meanwhile.

    The session app's pool claims from the same database, and a job it ran published its
    progress in the session app's process, where no browser listens: the page then waited
    for a poll that live pages do not make.
    """
    executor = runtime_of(app).get(EXECUTOR)
    session_worker = executor.worker_id if executor is not None else None
    if session_worker is not None:
        await _set_worker_paused(app, session_worker, True)
    server = LiveServer(config).start()
    try:
        yield server
    finally:
        server.stop()
        if session_worker is not None:
            await _set_worker_paused(app, session_worker, False)


async def _set_worker_paused(app: FastAPI, worker_id: str, paused: bool) -> None:
    async with transaction(runtime_of(app).sessionmaker) as session:
        await workers_service.set_worker_paused(session, worker_id, paused)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        await b.close()


PageFactory = Callable[..., Awaitable[Page]]


@pytest.fixture
async def signed_in(app: FastAPI, live: LiveServer, browser: Browser) -> AsyncIterator[PageFactory]:
    """`await signed_in("operator")` gives a page of a new user signed in through the form."""
    contexts = []
    errors: list[str] = []

    async def _make(role: str = "operator", username: str | None = None) -> Page:
        name = username or await new_user(app, role)
        context = await browser.new_context(
            base_url=live.url, viewport={"width": 1280, "height": 900}
        )
        contexts.append(context)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto("/ui/login")
        await page.fill("#username", name)
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url("**/ui/")
        await wait_live(page)
        return page

    yield _make
    for context in contexts:
        await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


async def wait_live(page: Page) -> None:
    """The status bar says the live stream is open."""
    await page.wait_for_selector("#live-state[data-state=open]")


async def check_axe(page: Page, name: str) -> None:
    """Run axe-core on the page; any serious or critical violation fails the test."""
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    bad = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:5]],
        }
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"axe on {name}: {json.dumps(bad, indent=1)}"


async def screenshot(page: Page, name: str) -> None:
    """Write docs/screenshots/<name>.png, only when asked (`make screenshots`): the images are
    tracked files, and a test run must leave the tree as it found it."""
    if os.environ.get("FOREDECK_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
