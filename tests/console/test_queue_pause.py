"""Per-queue pause and resume on the console's Queue page."""

from __future__ import annotations

from contextlib import aclosing

from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import WorkerControl
from tests.conftest import unique
from tests.console.helpers import HTMX, console_client


async def _control(app: FastAPI, queue: str) -> WorkerControl | None:
    async with runtime_of(app).sessionmaker() as session:
        return await session.get(WorkerControl, f"queue:{queue}")


def _row(html: str, queue: str) -> str:
    return html.split(f'<tr data-queue="{queue}">', 1)[1].split("</tr>", 1)[0]


async def test_operators_pause_and_resume_a_queue_viewers_only_see_it(app: FastAPI) -> None:
    queue = unique("q")
    operator, csrf = await console_client(app, "operator")
    viewer, viewer_csrf = await console_client(app, "viewer")
    async with aclosing(operator), aclosing(viewer):
        # A registered kind's queue is listed before it has any job.
        listed = await viewer.get("/ui/queue")
        assert listed.status_code == 200
        assert '<tr data-queue="default">' in listed.text
        assert "/ui/queue/default/pause" not in listed.text
        refused = await viewer.post(
            f"/ui/queue/{queue}/pause", headers={**HTMX, "X-CSRF-Token": viewer_csrf}
        )
        assert refused.status_code == 403 and await _control(app, queue) is None

        paused = await operator.post(
            f"/ui/queue/{queue}/pause", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert paused.status_code == 204 and f"Queue {queue} paused" in paused.headers["HX-Trigger"]
        control = await _control(app, queue)
        assert control is not None and control.active
        by = control.data["by"]
        row = _row((await viewer.get("/ui/queue")).text, queue)
        assert f"paused by {by}" in row and "since" in row
        own = _row((await operator.get("/ui/queue")).text, queue)
        assert f"Resume queue {queue}?" in own and f"/ui/queue/{queue}/resume" in own

        resumed = await operator.post(
            f"/ui/queue/{queue}/resume", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert resumed.status_code == 204
        control = await _control(app, queue)
        assert control is not None and not control.active
        assert f'<tr data-queue="{queue}">' not in (await operator.get("/ui/queue")).text


async def test_a_bad_queue_name_or_action_changes_nothing(app: FastAPI) -> None:
    operator, csrf = await console_client(app, "operator")
    async with aclosing(operator):
        bad_name = await operator.post(
            "/ui/queue/no%20spaces!/pause", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert bad_name.status_code == 422 and "queue name" in bad_name.headers["HX-Trigger"]
        assert await _control(app, "no spaces!") is None
        queue = unique("q")
        bad_action = await operator.post(
            f"/ui/queue/{queue}/stop", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert bad_action.status_code == 422 and await _control(app, queue) is None
        no_csrf = await operator.post(f"/ui/queue/{queue}/pause", headers=HTMX)
        assert no_csrf.status_code == 403 and await _control(app, queue) is None
