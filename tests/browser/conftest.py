"""One Chromium for the session, one live server, pages signed in per role."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, async_playwright, expect

from foredeck.config import Config
from tests.conftest import PASSWORD
from tests.console.helpers import new_user
from tests.console.server import LiveServer

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "src/foredeck/console/static/vendor/axe.min.js"
AXE_FALLBACK = ROOT / "node_modules/axe-core/axe.min.js"
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
def live(app: FastAPI, config: Config) -> Iterator[LiveServer]:
    server = LiveServer(config).start()
    yield server
    server.stop()


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
    script = AXE if AXE.exists() else AXE_FALLBACK
    await page.add_script_tag(path=str(script))
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
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
