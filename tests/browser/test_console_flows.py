"""Operator flows in Chromium: import with live progress and lock, workers, snapshots, SSE."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.async_api import Page, expect

from foredeck.console.hub import CONSOLE_HUB
from foredeck.db import transaction
from foredeck.jobs import controls as job_controls
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Worker
from foredeck.operations.sources.locations import imports_dir
from tests.browser.conftest import PageFactory, check_axe, screenshot, wait_live
from tests.console.server import LiveServer

pytestmark = pytest.mark.browser


def _csv(rows: int) -> bytes:
    lines = ["content,external_id,kind"]
    lines += [f"browser record number {i} about topic {i % 17},b-{i},note" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


async def _confirm(page: Page) -> None:
    """Accept the <dialog> confirmation the action opened."""
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_be_visible()
    await page.click("#confirm-ok")
    await expect(dialog).to_be_hidden()


async def _toast(page: Page, text: str) -> None:
    await expect(page.locator("#toasts")).to_contain_text(text)


async def _set_queue_paused(app: FastAPI, queue: str, paused: bool) -> None:
    async with transaction(runtime_of(app).sessionmaker) as session:
        if paused:
            await job_controls.pause_queue(session, queue)
        else:
            await job_controls.resume_queue(session, queue)


async def test_import_progress_and_lock_in_a_second_browser(
    app: FastAPI, live: LiveServer, signed_in: PageFactory, tmp_path: Path
) -> None:
    collection = f"br{uuid.uuid4().hex[:8]}"
    source = tmp_path / "records.csv"
    source.write_bytes(_csv(300))
    first = await signed_in("operator")
    second = await signed_in("operator")
    await first.goto("/ui/import")
    await second.goto("/ui/import")
    await wait_live(first)
    await wait_live(second)
    await expect(second.locator("#start-import")).to_be_enabled()
    # Hold the job in the queue so the lock is visibly held until we let it run.
    await _set_queue_paused(app, "operations", True)
    try:
        await first.set_input_files("#import-file", str(source))
        await first.fill("#import-collection", collection)
        await first.click("#start-import")
        await _toast(first, "Import started")
        await expect(first.get_by_test_id("import-progress")).to_contain_text(
            "queued", timeout=20_000
        )
        # The other browser sees the start button disabled, with the holder, without a reload.
        await expect(second.locator("#start-import")).to_be_disabled(timeout=20_000)
        await expect(second.locator("#import-start")).to_contain_text("an import is running")
        await expect(second.locator("#import-lock a")).to_have_attribute(
            "href", re.compile(r"/ui/jobs/.+")
        )
        await check_axe(second, "import while locked")
        await screenshot(second, "import-locked")
    finally:
        await _set_queue_paused(app, "operations", False)
    live.run(_nudge(live))
    await expect(first.get_by_test_id("import-percent")).to_have_text("100 %", timeout=60_000)
    await expect(first.get_by_test_id("import-progress")).to_contain_text("succeeded")
    await expect(first.get_by_test_id("import-progress")).to_contain_text("300")
    await expect(second.locator("#start-import")).to_be_enabled(timeout=30_000)
    await screenshot(first, "import-done")


async def _nudge(live: LiveServer) -> None:
    """Wake the embedded executors (they also poll, this only saves a second)."""
    dispatch = getattr(runtime_of(live.app), "job_dispatch", None)
    if dispatch is not None and hasattr(dispatch, "wake"):
        dispatch.wake()


async def test_keyboard_only_import(app: FastAPI, live: LiveServer, signed_in: PageFactory) -> None:
    name = f"kb-{uuid.uuid4().hex[:8]}.csv"
    (imports_dir(runtime_of(live.app).config) / name).write_bytes(_csv(20))
    collection = f"kb{uuid.uuid4().hex[:8]}"
    page = await signed_in("operator")
    await page.goto("/ui/import")
    await wait_live(page)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"

    async def tab_to(selector: str, limit: int = 60) -> None:
        for _ in range(limit):
            await page.keyboard.press("Tab")
            if await page.evaluate(f"document.activeElement.matches({selector!r})"):
                outline = await page.evaluate(
                    "getComputedStyle(document.activeElement).outlineStyle"
                )
                assert outline != "none", f"{selector} has no visible focus"
                return
        raise AssertionError(f"{selector} cannot be reached with Tab")

    await tab_to("input[name=source][value=upload]")
    await page.keyboard.press("ArrowRight")
    assert await page.is_checked("input[name=source][value=file]")
    await tab_to("#import-path")
    await page.keyboard.type(name)
    await tab_to("#import-collection")
    await page.keyboard.press("Control+A")
    await page.keyboard.type(collection)
    await tab_to("#start-import")
    await page.keyboard.press("Enter")
    await _toast(page, "Import started")
    await expect(page.get_by_test_id("import-percent")).to_have_text("100 %", timeout=60_000)
    await expect(page.get_by_test_id("import-progress")).to_contain_text("succeeded")
    await check_axe(page, "import after keyboard walk")


async def test_bad_import_input_shows_inline_errors_and_keeps_values(
    signed_in: PageFactory,
) -> None:
    page = await signed_in("operator")
    await page.goto("/ui/import")
    await page.check("input[name=source][value=file]")
    await page.fill("#import-path", "does-not-exist.csv")
    await page.fill("#import-collection", "not a valid name!")
    await page.click("#start-import")
    error = page.locator("#err-collection")
    await expect(error).not_to_be_empty()
    await expect(page.locator("#import-collection")).to_have_value("not a valid name!")
    await expect(page.locator("#import-collection")).to_have_attribute("aria-invalid", "true")
    await _toast(page, "not started")


async def _test_worker(app: FastAPI) -> str:
    worker_id = f"browser-{uuid.uuid4().hex[:8]}"
    async with transaction(runtime_of(app).sessionmaker) as session:
        session.add(Worker(id=worker_id, host="testhost", pid=4242, role="test", queues=["t"]))
    return worker_id


async def test_pause_and_resume_a_worker_seen_in_another_tab(
    app: FastAPI, signed_in: PageFactory
) -> None:
    worker_id = await _test_worker(app)
    acting = await signed_in("operator")
    watching = await signed_in("viewer")
    for page in (acting, watching):
        await page.goto("/ui/workers")
        await wait_live(page)
    row = f"tr[data-worker='{worker_id}']"
    await expect(watching.locator(row)).to_be_visible()
    await acting.click(f"{row} button:has-text('Pause')")
    await expect(acting.locator("#confirm-text")).to_contain_text(f"Pause worker {worker_id}")
    await screenshot(acting, "workers-confirm")
    await _confirm(acting)
    await _toast(acting, "paused")
    await expect(watching.locator(f"{row} .badge.paused")).to_be_visible()
    await acting.click(f"{row} button:has-text('Resume')")
    await _confirm(acting)
    await expect(watching.locator(f"{row} .badge.paused")).to_have_count(0)
    # Cancelling a dialog changes nothing.
    await acting.click(f"{row} button:has-text('Pause')")
    await acting.click("#confirm-cancel")
    async with runtime_of(app).sessionmaker() as session:
        worker = await session.get(Worker, worker_id)
        assert worker is not None and worker.paused is False
    await check_axe(watching, "workers (viewer)")


async def test_restore_a_snapshot(live: LiveServer, signed_in: PageFactory, tmp_path: Path) -> None:
    page = await signed_in("admin")
    await page.goto("/ui/index")
    snapshot = await page.request.get("/api/v1/index/snapshot")
    assert snapshot.ok, await snapshot.text()
    good = tmp_path / "snapshot.tar"
    good.write_bytes(await snapshot.body())
    wrong = tmp_path / "snapshot.txt"
    wrong.write_text("not a snapshot")
    # The browser checks the extension before anything is sent.
    await page.set_input_files("#snapshot-file", str(wrong))
    await expect(page.locator("#snapshot-file-error")).to_contain_text(".tar")
    await page.set_input_files("#snapshot-file", str(good))
    await expect(page.locator("#snapshot-file-error")).to_be_empty()
    await page.click("button:has-text('Restore snapshot')")
    await expect(page.locator("#confirm-text")).to_contain_text("Embedding workers pause")
    await _confirm(page)
    await _toast(page, "Snapshot restored")
    await screenshot(page, "index-restored")


async def test_sse_drop_and_resume_loses_no_event(live: LiveServer, signed_in: PageFactory) -> None:
    page = await signed_in("viewer")
    await page.goto("/ui/workers")
    await wait_live(page)
    marker = uuid.uuid4().hex
    for n in (1, 2, 3):
        live.publish("workers", {"marker": marker, "n": n})
    seen = f"() => window.fdSeen.filter(i => i && i.marker === '{marker}').map(i => i.n)"
    await page.wait_for_function(f"({seen})().length >= 3")
    assert live.run(_drop(live)) >= 1
    for n in (4, 5, 6):
        live.publish("workers", {"marker": marker, "n": n})
    await page.wait_for_function(f"({seen})().length >= 6", timeout=30_000)
    assert await page.evaluate(seen) == [1, 2, 3, 4, 5, 6]
    await wait_live(page)


async def _drop(live: LiveServer) -> int:
    return int(runtime_of(live.app)[CONSOLE_HUB].drop_clients())


async def test_viewer_sees_no_write_control(signed_in: PageFactory) -> None:
    page = await signed_in("viewer")
    for path in ("/ui/import", "/ui/export", "/ui/jobs", "/ui/workers", "/ui/index"):
        await page.goto(path)
        await expect(page.locator("#readonly-note")).to_be_visible()
        labels = await page.locator("main button").all_inner_texts()
        assert all(label in ("Filter", "Search", "Apply") for label in labels), (path, labels)
    await screenshot(page, "viewer-workers")


async def test_generate_a_dataset_from_a_description_then_delete_its_job(
    signed_in: PageFactory,
) -> None:
    page = await signed_in("operator")
    await page.goto("/ui/datasets")
    await page.fill("#ds-description", "50 customers with name, email, age between 18 and 90")
    await page.click("button:has-text('Extract the schema')")
    await expect(page.locator("#ds-col-0-name")).to_have_value("name")
    # How each phrase was read sits beside its column.
    await expect(page.locator("#note-ds-col-2")).to_contain_text("Read as: integer 18 to 90")
    # A bad column name: the API's message appears next to it and what was typed stays.
    await page.fill("#ds-col-1-name", "1 bad")
    await page.locator("#schema-form button:has-text('Validate')").first.click()
    await expect(page.locator("#err-ds-col-1-name")).to_contain_text("pattern")
    await expect(page.locator("#ds-col-1-name")).to_have_value("1 bad")
    await page.fill("#ds-col-1-name", "email")
    # A new column, then its type's own options (the type select re-renders the form).
    await page.click("button:has-text('Add a column')")
    await expect(page.locator("#ds-col-3-name")).to_be_focused()
    await page.keyboard.type("tier")
    # As a person would, choose the type once the new column's swap has settled.
    await page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    await page.select_option("#ds-col-3-type", "choice")
    await expect(page.locator("#ds-col-3-choices")).to_be_visible()
    await expect(page.locator("#ds-col-3-name")).to_have_value("tier")
    await page.fill("#ds-col-3-choices", "gold\nsilver")
    await page.locator("#schema-form button:has-text('Validate')").last.click()
    await _toast(page, "The schema is valid")
    await check_axe(page, "dataset schema form")
    await screenshot(page, "dataset-schema")
    await page.click("button:has-text('Generate the dataset')")
    await page.wait_for_url(re.compile(r"/ui/datasets/[0-9a-f-]{36}$"))
    job_id = page.url.rsplit("/", 1)[1]
    await wait_live(page)
    await expect(page.get_by_test_id("chunks-done")).to_contain_text("1 of 1", timeout=60_000)
    await page.click("a:has-text('Preview chunk 0')")
    await expect(page.locator("table thead")).to_contain_text("tier")
    await check_axe(page, "chunk preview")
    await page.go_back()
    await page.click("button:has-text('Prepare csv')")
    await expect(page.locator("a:has-text('Download csv')")).to_be_visible(timeout=60_000)
    await screenshot(page, "dataset")

    # The finished job goes, through the batch action and its confirmation dialog.
    await page.goto(f"/ui/jobs?q={job_id}")
    await wait_live(page)
    row = page.locator(f"tr:has(a[href='/ui/jobs/{job_id}'])")
    await expect(row.locator(".badge")).to_have_text("succeeded", timeout=30_000)
    await row.locator("input[name=ids]").check()
    await page.click("#batch-selected button[value=delete]")
    await expect(page.locator("#confirm-text")).to_contain_text("Delete 1 selected jobs")
    await check_axe(page, "jobs delete confirmation")
    await screenshot(page, "jobs-delete-confirm")
    await _confirm(page)
    await _toast(page, "Delete: 1 done")
    await expect(row).to_have_count(0)
    gone = await page.request.get(f"/api/v1/jobs/{job_id}")
    assert gone.status == 404
