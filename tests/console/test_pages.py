"""Console pages on the same services as the API: filters, batch actions, controls, forms."""

from __future__ import annotations

import re
import uuid
from contextlib import aclosing
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from foredeck.db import transaction
from foredeck.jobs import controls as job_controls
from foredeck.jobs import service as jobs_service
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from foredeck.models.settings import Setting
from foredeck.records import service as records_service
from tests.conftest import UserFactory, unique
from tests.console.helpers import HTMX, console_client
from tests.jobs.helpers import finished_jobs, parked_job

PAGES = (
    "/ui/",
    "/ui/import",
    "/ui/export",
    "/ui/jobs",
    "/ui/queue?window=15m",
    "/ui/workers",
    "/ui/index",
    "/ui/search",
    "/ui/records",
    "/ui/datasets",
    "/ui/settings",
)


async def _parked_jobs(app: FastAPI, queue: str, n: int) -> list[str]:
    """Queued jobs in a paused queue of their own that no worker will start for a day; the
    pause also holds the ones a test retries (a retry makes them due at once)."""
    async with transaction(runtime_of(app).sessionmaker) as session:
        await job_controls.pause_queue(session, queue)
        jobs = [
            await jobs_service.create_job(
                session, kind="noop", queue=queue, run_after=utcnow() + timedelta(days=1)
            )
            for _ in range(n)
        ]
        return [j.id for j in jobs]


async def _statuses(app: FastAPI, ids: list[str]) -> list[str]:
    async with runtime_of(app).sessionmaker() as session:
        rows = await session.execute(select(Job.id, Job.status).where(Job.id.in_(ids)))
        found = dict(rows.all())
    return [found[i] for i in ids]


async def test_every_page_renders_whole_and_as_a_block(app: FastAPI) -> None:
    client, _ = await console_client(app, "viewer")
    async with aclosing(client):
        for path in PAGES:
            page = await client.get(path)
            assert page.status_code == 200, (path, page.text[-500:])
            assert page.text.startswith("<!doctype html>") and 'aria-current="page"' in page.text
        block = await client.get("/ui/workers", headers={**HTMX, "HX-Target": "workers-body"})
        assert block.status_code == 200
        assert block.text.lstrip().startswith('<section id="workers-body"')
        assert "<html" not in block.text


async def test_jobs_filters_live_in_the_url_and_batch_on_the_filter(app: FastAPI) -> None:
    queue = f"q{uuid.uuid4().hex[:8]}"
    ids = await _parked_jobs(app, queue, 3)
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        page = await client.get(f"/ui/jobs?queue={queue}&status=queued")
        assert page.status_code == 200
        assert 'data-testid="jobs-total">3<' in page.text
        assert "Cancel all 3 jobs matching this filter?" in page.text
        for job_id in ids:
            assert f"/ui/jobs/{job_id}" in page.text
        bad = await client.post(
            "/ui/jobs/batch",
            data={"scope": "matching", "action": "explode", "queue": queue},
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert bad.status_code == 422
        assert await _statuses(app, ids) == ["queued"] * 3
        done = await client.post(
            "/ui/jobs/batch",
            data={"scope": "matching", "action": "cancel", "queue": queue, "status": "queued"},
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert done.status_code == 204 and "Cancel: 3 done" in done.headers["HX-Trigger"]
        assert await _statuses(app, ids) == ["cancelled"] * 3
        retried = await client.post(
            "/ui/jobs/batch",
            data={"scope": "selected", "action": "retry", "ids": ids[:2]},
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert "Retry: 2 done" in retried.headers["HX-Trigger"]
        assert await _statuses(app, ids) == ["queued", "queued", "cancelled"]
        count = await client.get(f"/ui/jobs/count?queue={queue}&status=cancelled")
        assert count.text == "1"
        oldest = await client.get(f"/ui/jobs?queue={queue}&sort=created")
        newest = await client.get(f"/ui/jobs?queue={queue}")
        positions = [oldest.text.index(f"/ui/jobs/{i}") for i in ids]
        assert positions == sorted(positions)
        positions = [newest.text.index(f"/ui/jobs/{i}") for i in ids]
        assert positions == sorted(positions, reverse=True)
        assert (await client.get("/ui/jobs?sort=bogus")).status_code == 422
        invalid = await client.get("/ui/jobs?created_after=yesterday")
        assert invalid.status_code == 422 and "Use a date like" in invalid.text


async def test_job_page_shows_only_the_controls_its_state_allows(app: FastAPI) -> None:
    [job_id] = await _parked_jobs(app, f"q{uuid.uuid4().hex[:8]}", 1)
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        page = await client.get(f"/ui/jobs/{job_id}")
        assert f"/ui/jobs/{job_id}/pause" in page.text and f"/ui/jobs/{job_id}/cancel" in page.text
        assert f"/ui/jobs/{job_id}/resume" not in page.text
        assert "Event log" in page.text and "queued" in page.text
        paused = await client.post(
            f"/ui/jobs/{job_id}/pause", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert paused.status_code == 204
        page = await client.get(f"/ui/jobs/{job_id}")
        assert f"/ui/jobs/{job_id}/resume" in page.text
        assert f"/ui/jobs/{job_id}/pause" not in page.text
        again = await client.post(
            f"/ui/jobs/{job_id}/pause", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert again.status_code == 409 and "Cannot pause" in again.headers["HX-Trigger"]
        await client.post(f"/ui/jobs/{job_id}/cancel", headers={**HTMX, "X-CSRF-Token": csrf})
        missing = await client.get(f"/ui/jobs/{uuid.uuid4()}")
        assert missing.status_code == 404 and "<h1>404" in missing.text


async def _exists(app: FastAPI, ids: list[str]) -> list[bool]:
    async with runtime_of(app).sessionmaker() as session:
        found = set(await session.scalars(select(Job.id).where(Job.id.in_(ids))))
    return [i in found for i in ids]


async def test_batch_and_single_delete_of_finished_jobs(app: FastAPI) -> None:
    ids = await finished_jobs(app, 3, status="failed")
    async with runtime_of(app).sessionmaker() as session:
        job = await session.get(Job, ids[0])
        assert job is not None
        queue = job.queue
    active = await parked_job(app)
    client, csrf = await console_client(app, "operator")
    write = {**HTMX, "X-CSRF-Token": csrf}
    async with aclosing(client):
        page = await client.get(f"/ui/jobs?queue={queue}")
        assert "Delete all 3 jobs matching this filter" in page.text
        assert 'data-confirm-label="Delete jobs">Delete</button>' in page.text
        picked = await client.post(
            "/ui/jobs/batch",
            data={"scope": "selected", "action": "delete", "ids": [ids[0], active]},
            headers=write,
        )
        assert picked.status_code == 204
        assert "Delete: 1 done, 1 skipped" in picked.headers["HX-Trigger"]
        assert await _exists(app, [ids[0], active]) == [False, True]
        matching = await client.post(
            "/ui/jobs/batch",
            data={"scope": "matching", "action": "delete", "queue": queue, "status": "failed"},
            headers=write,
        )
        assert "Delete: 2 done" in matching.headers["HX-Trigger"]
        assert await _exists(app, ids) == [False] * 3

        [one] = await finished_jobs(app, 1, status="cancelled")
        running_page = await client.get(f"/ui/jobs/{active}")
        assert f"/ui/jobs/{active}/delete" not in running_page.text
        refused = await client.post(f"/ui/jobs/{active}/delete", headers=write)
        assert refused.status_code == 409 and "cancel it first" in refused.headers["HX-Trigger"]
        finished_page = await client.get(f"/ui/jobs/{one}")
        assert f'hx-post="/ui/jobs/{one}/delete"' in finished_page.text
        gone = await client.post(f"/ui/jobs/{one}/delete", headers=write)
        assert gone.status_code == 204
        assert gone.headers["HX-Redirect"] == f"/ui/jobs?deleted={one[:8]}"
        assert await _exists(app, [one]) == [False]
        listing = await client.get(gone.headers["HX-Redirect"])
        assert f'Deleted job <span class="mono">{one[:8]}</span>' in listing.text
        missing = await client.post(f"/ui/jobs/{one}/delete", data={"csrf_token": csrf})
        assert missing.status_code == 404 and "<h1>404" in missing.text
        [plain] = await finished_jobs(app, 1)
        no_js = await client.post(f"/ui/jobs/{plain}/delete", data={"csrf_token": csrf})
        assert no_js.status_code == 303 and no_js.headers["location"].startswith("/ui/jobs?")
        await client.post(f"/ui/jobs/{active}/cancel", headers=write)


async def test_viewer_sees_no_delete_and_cannot_delete(app: FastAPI) -> None:
    [job_id] = await finished_jobs(app, 1)
    client, csrf = await console_client(app, "viewer")
    async with aclosing(client):
        for path in (f"/ui/jobs?q={job_id}", f"/ui/jobs/{job_id}"):
            page = await client.get(path)
            assert page.status_code == 200
            assert ">Delete" not in page.text and "/delete" not in page.text, path
        write = {**HTMX, "X-CSRF-Token": csrf}
        batch = await client.post(
            "/ui/jobs/batch",
            data={"scope": "selected", "action": "delete", "ids": [job_id]},
            headers=write,
        )
        single = await client.post(f"/ui/jobs/{job_id}/delete", headers=write)
        for resp in (batch, single):
            assert resp.status_code == 403 and "operator role" in resp.headers["HX-Trigger"]
    assert await _exists(app, [job_id]) == [True]


async def test_settings_errors_come_back_inline_and_nothing_is_stored(app: FastAPI) -> None:
    client, csrf = await console_client(app, "admin")
    form = {
        "csrf_token": csrf,
        "telemetry_hours": "0",
        "export_days": "7",
        "job_days": "abc",
        "intent": "save",
    }
    async with aclosing(client):
        async with runtime_of(app).sessionmaker() as session:
            before = await session.get(Setting, "retention")
            before_value = dict(before.value_json) if before else None
        resp = await client.post("/ui/settings/retention", data=form, headers=HTMX)
        assert resp.status_code == 422
        assert resp.text.lstrip().startswith('<section class="card" id="section-retention"')
        errors = dict(re.findall(r'id="err-retention-(\w+)">([^<]+)<', resp.text))
        assert "greater than or equal to 1" in errors["telemetry_hours"]
        assert "valid integer" in errors["job_days"]
        assert 'value="abc"' in resp.text  # what the user typed stays
        async with runtime_of(app).sessionmaker() as session:
            after = await session.get(Setting, "retention")
            assert (dict(after.value_json) if after else None) == before_value
        checked = await client.post(
            "/ui/settings/retention", data={**form, "intent": "validate"}, headers=HTMX
        )
        assert checked.status_code == 422 and "not valid" in checked.headers["HX-Trigger"]


async def test_operators_see_settings_read_only_and_may_only_validate(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with runtime_of(app).sessionmaker() as session:
        before = await session.get(Setting, "retention")
        before_value = dict(before.value_json) if before else None
    async with aclosing(client):
        page = await client.get("/ui/settings")
        assert 'id="settings-readonly-note"' in page.text and "admin role" in page.text
        assert ">Save " not in page.text and ">Validate</button>" in page.text
        assert 'id="retention-job_days" name="job_days" value="' in page.text
        assert re.search(r'id="retention-job_days"[^>]* readonly>', page.text)
        form = {"csrf_token": csrf, "telemetry_hours": "5", "export_days": "7", "job_days": "9"}
        saved = await client.post(
            "/ui/settings/retention", data={**form, "intent": "save"}, headers=HTMX
        )
        assert saved.status_code == 403 and "admin role" in saved.headers["HX-Trigger"]
        plain = await client.post("/ui/settings/retention", data={**form, "intent": "save"})
        assert plain.status_code == 403 and "admin role" in plain.text
        checked = await client.post(
            "/ui/settings/retention", data={**form, "intent": "validate"}, headers=HTMX
        )
        assert checked.status_code == 200 and "retention: valid" in checked.headers["HX-Trigger"]
        assert "Save retention" not in checked.text
    async with runtime_of(app).sessionmaker() as session:
        after = await session.get(Setting, "retention")
        assert (dict(after.value_json) if after else None) == before_value
    admin, _csrf = await console_client(app, "admin")
    async with aclosing(admin):
        page = await admin.get("/ui/settings")
        assert "settings-readonly-note" not in page.text and ">Save retention<" in page.text


async def test_a_plain_form_import_without_javascript(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    collection = f"plain{uuid.uuid4().hex[:8]}"
    async with aclosing(client):
        bad = await client.post(
            "/ui/import",
            data={"csrf_token": csrf, "source": "upload", "collection": "bad name!"},
            files={"file": ("x.csv", b"content\nhello\n")},
        )
        assert bad.status_code == 422 and bad.text.startswith("<!doctype html>")
        assert 'id="err-collection">String should match pattern' in bad.text
        ok = await client.post(
            "/ui/import",
            data={"csrf_token": csrf, "source": "upload", "collection": collection},
            files={"file": ("x.csv", b"content,external_id\nhello,1\nworld,2\n")},
        )
        assert ok.status_code == 303 and ok.headers["location"].startswith("/ui/import?job=")
        job_id = ok.headers["location"].split("=", 1)[1]
        page = await client.get(ok.headers["location"])
        assert f"job {job_id[:8]}" in page.text
        preview = await client.post(
            "/ui/import/preview",
            data={"csrf_token": csrf, "source": "upload"},
            files={"file": ("p.csv", b"content,external_id\nfirst row,1\n")},
            headers=HTMX,
        )
        assert "content, external_id" in preview.text and "first row" in preview.text


async def test_export_form_refuses_inline_then_starts(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    write = {**HTMX, "X-CSRF-Token": csrf}
    async with aclosing(client):
        bad = await client.post(
            "/ui/export", data={"format": "jsonl", "collection": "bad name!"}, headers=write
        )
        assert bad.status_code == 422 and "not started" in bad.headers["HX-Trigger"]
        assert bad.text.lstrip().startswith('<form id="export-form"')
        assert 'value="bad name!"' in bad.text and 'id="err-collection">' in bad.text
        collection = f"exp{uuid.uuid4().hex[:8]}"
        ok = await client.post(
            "/ui/export", data={"format": "jsonl", "collection": collection}, headers=write
        )
        assert ok.status_code == 200 and "Export started" in ok.headers["HX-Trigger"]
        assert "fd:export-started" in ok.headers["HX-Trigger"]
        # Without JavaScript a refused form is the whole page, the errors inline.
        plain = await client.post(
            "/ui/export", data={"csrf_token": csrf, "format": "jsonl", "collection": "bad name!"}
        )
        assert plain.status_code == 422 and plain.text.startswith("<!doctype html>")
        assert 'id="err-collection">' in plain.text


async def test_search_highlights_matches_and_links_records(app: FastAPI) -> None:
    word = f"zq{uuid.uuid4().hex[:8]}"
    async with transaction(runtime_of(app).sessionmaker) as session:
        memory = await records_service.create_memory(
            session, content=f"The {word} sits on the mat", collection="searchui"
        )
    client, _ = await console_client(app, "viewer")
    async with aclosing(client):
        page = await client.get(f"/ui/search?q={word}&mode=keyword")
        assert page.status_code == 200
        assert f"<mark>{word}</mark>" in page.text
        assert f'href="/ui/records/{memory.id}"' in page.text
        assert "keyword #1 (all)" in page.text  # why it ranked: the list and how it matched
        record = await client.get(f"/ui/records/{memory.id}")
        assert word in record.text
        bad = await client.get("/ui/search?q=x&mode=telepathy")
        assert bad.status_code == 422 and "Choose semantic, keyword or hybrid" in bad.text


async def test_paused_queues_say_who_paused_them(app: FastAPI, make_user: UserFactory) -> None:
    """An operator's pause names the operator; an operation's pause says it ends with it."""
    name = unique("pauser")
    by_hand, by_operation = unique("hand"), unique("auto")
    headers = await make_user("operator", username=name)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        resp = await api.post(f"/api/v1/queues/{by_hand}/pause", headers=headers)
        assert resp.status_code == 200, resp.text
    async with transaction(runtime_of(app).sessionmaker) as session:
        await job_controls.pause_queue(
            session, by_operation, by="the index restore", automatic=True
        )
    client, _ = await console_client(app, "viewer")
    try:
        async with aclosing(client):
            workers_page = (await client.get("/ui/workers")).text
            import_page = (await client.get("/ui/import")).text
        for page in (workers_page, import_page):
            assert re.search(rf"{by_hand} \(paused by {name} since \d\d:\d\d:\d\d UTC\)", page)
            assert f"{by_operation} (paused by the index restore while it runs; resumed" in page
            assert f"{by_hand} (paused by {name} while" not in page
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await job_controls.resume_queue(session, by_hand)
            await job_controls.resume_queue(session, by_operation)
