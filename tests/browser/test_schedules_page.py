"""Schedules in Chromium: a nightly import scheduled from the form, a bad zone shown at its
field, and the new schedule appearing live in a viewer's tab."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import PageFactory, check_axe, screenshot, wait_live
from tests.conftest import unique

pytestmark = pytest.mark.browser


async def test_schedule_a_nightly_import(signed_in: PageFactory) -> None:
    acting = await signed_in("operator")
    watching = await signed_in("viewer")
    for page in (acting, watching):
        await page.goto("/ui/schedules")
        await wait_live(page)
    await expect(acting.locator("h1")).to_have_text("Schedules")
    await check_axe(acting, "schedules")
    name = unique("nightly-")
    await acting.fill("#sf-name", name)
    await acting.select_option("#sf-kind", "import")
    await acting.fill("#sf-params", '{"source": "url", "url": "http://127.0.0.1:9/rows.csv"}')
    await acting.fill("#sf-cron", "0 3 * * *")
    await acting.fill("#sf-tz", "Atlantis/Nowhere")
    await acting.click("button:has-text('Create schedule')")
    await expect(acting.locator("#err-timezone")).to_contain_text("Unknown time zone")
    await expect(acting.locator("#sf-tz")).to_have_attribute("aria-invalid", "true")
    await check_axe(acting, "schedules form errors")
    await acting.fill("#sf-tz", "Europe/Berlin")
    await acting.click("button:has-text('Create schedule')")
    row = f"tr:has(a:text-is('{name}'))"
    await expect(acting.locator(row)).to_be_visible()
    await expect(watching.locator(row)).to_be_visible()
    await expect(watching.locator(f"{row} time")).to_have_count(1)
    # The form is ready for the next one: emptied, no error left.
    await expect(acting.locator("#sf-name")).to_have_value("")
    await expect(acting.locator("#err-timezone")).to_be_empty()
    await screenshot(acting, "schedules")
    await acting.click(f"{row} a")
    await expect(acting.locator("h1")).to_contain_text(name)
    await expect(acting.locator("#next-fire time")).to_have_count(1)
    await check_axe(acting, "schedule")
