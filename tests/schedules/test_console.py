"""The Schedules console page: a nightly import scheduled from the form, its next fire time,
bad input shown per field, and its jobs found afterwards."""

from __future__ import annotations

from contextlib import aclosing
from datetime import timedelta

from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from foredeck.schedules import service
from tests.conftest import unique
from tests.console.helpers import HTMX, console_client
from tests.schedules.helpers import fire, fires


async def test_schedule_a_nightly_import_from_the_console(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    name = unique("nightly-ui-")
    form = {
        "csrf_token": csrf,
        "name": name,
        "kind": "import",
        "params": '{"source": "url", "url": "http://127.0.0.1:9/rows.csv"}',
        "cron": "0 3 * * *",
        "interval_seconds": "",
        "timezone": "Europe/Berlin",
        "misfire": "run_once",
        "catch_up_max": "1",
        "overlap": "skip",
        "description": "",
    }
    async with aclosing(client):
        page = await client.get("/ui/schedules")
        assert page.status_code == 200
        assert 'href="/ui/schedules" aria-current="page"' in page.text
        assert (
            "job-retention" in page.text
            and 'sse-connect="/ui/sse?topics=schedules,jobs"' in page.text
        )

        bad = await client.post(
            "/ui/schedules", data={**form, "timezone": "Atlantis/Nowhere"}, headers=HTMX
        )
        assert bad.status_code == 422
        assert 'id="err-timezone">Unknown time zone' in bad.text
        bad = await client.post("/ui/schedules", data={**form, "params": '{"source": "url"}'},
                                headers=HTMX)  # fmt: skip
        assert bad.status_code == 422 and 'id="err-params">' in bad.text
        async with runtime_of(app).sessionmaker() as session:
            assert await service.get_by_name(session, name) is None

        made = await client.post("/ui/schedules", data=form, headers=HTMX)
        # The form comes back emptied, with a toast and the event that refreshes the list.
        assert made.status_code == 200, made.text
        assert 'id="sf-name" name="name" value=""' in made.text
        assert "fd:schedules-changed" in made.headers["HX-Trigger"]
        async with runtime_of(app).sessionmaker() as session:
            schedule = await service.get_by_name(session, name)
        assert schedule is not None and schedule.next_fire_at is not None
        listed = await client.get("/ui/schedules")
        assert name in listed.text and schedule.next_fire_at.isoformat() in listed.text

        # The night comes: the fire queues the import, and the schedule's page lists it.
        await fire(runtime_of(app), schedule.id, schedule.next_fire_at + timedelta(seconds=1))
        [run] = await fires(app, schedule.id)
        detail = await client.get(f"/ui/schedules/{schedule.id}")
        assert detail.status_code == 200
        assert f'href="/ui/jobs/{run.job_id}"' in detail.text

        paused = await client.post(
            f"/ui/schedules/{schedule.id}/pause", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert paused.status_code == 204
        detail = await client.get(f"/ui/schedules/{schedule.id}")
        assert "— (paused)" in detail.text and f"/ui/schedules/{schedule.id}/resume" in detail.text
        edited = await client.post(
            f"/ui/schedules/{schedule.id}",
            data={**form, "cron": "", "interval_seconds": "7200"},
            headers=HTMX,
        )
        assert edited.status_code == 200, edited.text
        assert 'value="7200"' in edited.text and 'field-error">Unknown' not in edited.text
        async with runtime_of(app).sessionmaker() as session:
            again = await service.get_schedule(session, schedule.id)
        assert (again.cron, again.interval_seconds) == (None, 7200)
        gone = await client.post(
            f"/ui/schedules/{schedule.id}/delete", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert gone.status_code == 204


async def test_viewers_see_schedules_but_no_form(app: FastAPI) -> None:
    client, csrf = await console_client(app, "viewer")
    async with aclosing(client):
        page = await client.get("/ui/schedules")
        assert page.status_code == 200 and "job-retention" in page.text
        assert 'id="schedule-form"' not in page.text
        refused = await client.post("/ui/schedules", data={"csrf_token": csrf, "name": "x"})
        assert refused.status_code == 403
