"""Console pages on the same services as the API: filters, batch actions, controls, forms."""

from __future__ import annotations

import re
import uuid
from contextlib import aclosing
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select

from foredeck.db import transaction
from foredeck.jobs import service as jobs_service
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from foredeck.models.settings import Setting
from foredeck.records import service as records_service
from tests.console.helpers import HTMX, console_client

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
    """Queued jobs in a queue of their own that no worker will start for a day."""
    async with transaction(app.state.sessionmaker) as session:
        jobs = [
            await jobs_service.create_job(
                session, kind="noop", queue=queue, run_after=utcnow() + timedelta(days=1)
            )
            for _ in range(n)
        ]
        return [j.id for j in jobs]


async def _statuses(app: FastAPI, ids: list[str]) -> list[str]:
    async with app.state.sessionmaker() as session:
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


async def test_settings_errors_come_back_inline_and_nothing_is_stored(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    form = {
        "csrf_token": csrf,
        "telemetry_hours": "0",
        "export_days": "7",
        "job_days": "abc",
        "intent": "save",
    }
    async with aclosing(client):
        async with app.state.sessionmaker() as session:
            before = await session.get(Setting, "retention")
            before_value = dict(before.value_json) if before else None
        resp = await client.post("/ui/settings/retention", data=form, headers=HTMX)
        assert resp.status_code == 422
        assert resp.text.lstrip().startswith('<section class="card" id="section-retention"')
        errors = dict(re.findall(r'id="err-retention-(\w+)">([^<]+)<', resp.text))
        assert "greater than or equal to 1" in errors["telemetry_hours"]
        assert "valid integer" in errors["job_days"]
        assert 'value="abc"' in resp.text  # what the user typed stays
        async with app.state.sessionmaker() as session:
            after = await session.get(Setting, "retention")
            assert (dict(after.value_json) if after else None) == before_value
        checked = await client.post(
            "/ui/settings/retention", data={**form, "intent": "validate"}, headers=HTMX
        )
        assert checked.status_code == 422 and "not valid" in checked.headers["HX-Trigger"]


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


async def test_search_highlights_matches_and_links_records(app: FastAPI) -> None:
    word = f"zq{uuid.uuid4().hex[:8]}"
    async with transaction(app.state.sessionmaker) as session:
        memory = await records_service.create_memory(
            session, content=f"The {word} sits on the mat", collection="searchui"
        )
    client, _ = await console_client(app, "viewer")
    async with aclosing(client):
        page = await client.get(f"/ui/search?q={word}&mode=keyword")
        assert page.status_code == 200
        assert f"<mark>{word}</mark>" in page.text
        assert f'href="/ui/records/{memory.id}"' in page.text
        record = await client.get(f"/ui/records/{memory.id}")
        assert word in record.text
        bad = await client.get("/ui/search?q=x&mode=telepathy")
        assert bad.status_code == 422 and "Choose semantic, keyword or hybrid" in bad.text
