"""/docs and /redoc render in Chromium with no request leaving this server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Route, expect

from tests.console.server import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")],
)
async def test_api_docs_render_offline(
    live: LiveServer, browser: Browser, path: str, rendered: str
) -> None:
    context = await browser.new_context(base_url=live.url)
    own = urlsplit(live.url).netloc
    elsewhere: list[str] = []
    errors: list[str] = []

    async def guard(route: Route) -> None:
        url = urlsplit(route.request.url)
        if url.scheme in ("http", "https") and url.netloc != own:
            elsewhere.append(route.request.url)
            await route.abort()
        else:
            await route.continue_()

    try:
        await context.route("**/*", guard)
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(path)
        await expect(page.locator(rendered).first).to_contain_text("foredeck")
        await expect(page.get_by_text("Get Memory").first).to_be_attached()
    finally:
        await context.close()
    # ReDoc's menu footer asks for a logo from its CDN: the page's policy refuses it before
    # it is sent, so nothing reaches the network.
    assert not elsewhere, elsewhere
    assert not errors, errors
