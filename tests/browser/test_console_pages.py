"""Every console page in Chromium: renders, passes axe-core, and is kept as a screenshot."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PageFactory, check_axe, screenshot

pytestmark = pytest.mark.browser

PAGES = [
    ("overview", "/ui/", "Overview"),
    ("import", "/ui/import", "Import"),
    ("export", "/ui/export", "Export"),
    ("jobs", "/ui/jobs", "Jobs"),
    ("queue", "/ui/queue", "Queue"),
    ("workers", "/ui/workers", "Workers"),
    ("index", "/ui/index", "Index"),
    ("search", "/ui/search?q=record", "Search"),
    ("datasets", "/ui/datasets", "Datasets"),
    ("settings", "/ui/settings", "Settings"),
    ("records", "/ui/records", "Records"),
    ("schedules", "/ui/schedules", "Schedules"),
    ("registry", "/ui/registry", "Registry"),
    ("registry-projects", "/ui/registry/projects", "Projects"),
    ("users", "/ui/users", "Users"),
    ("api-keys", "/ui/api-keys", "API keys"),
    ("account", "/ui/account", "Account"),
]


async def test_sign_in_and_every_page_renders(signed_in: PageFactory) -> None:
    page = await signed_in("admin")
    for name, path, heading in PAGES:
        await page.goto(path)
        await page.wait_for_selector("h1")
        assert heading in (await page.inner_text("h1")), name
        # One link says "you are here": the page's nav entry, or the account link in the header.
        current = page.locator("a[aria-current=page]")
        assert await current.count() == 1, name
        await check_axe(page, name)
        await screenshot(page, name)
