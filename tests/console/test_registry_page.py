"""The console's Registry pages: viewers read, operators create and edit, admins delete."""

from __future__ import annotations

from contextlib import aclosing

from fastapi import FastAPI
from sqlalchemy import select

from foredeck.kit.runtime import runtime_of
from foredeck.models.registry import Project, Server, Task
from tests.conftest import unique
from tests.console.helpers import HTMX, console_client


async def _project(app: FastAPI, name: str) -> Project | None:
    async with runtime_of(app).sessionmaker() as session:
        return await session.scalar(select(Project).where(Project.name == name))


async def _tasks(app: FastAPI, project_id: int) -> list[Task]:
    async with runtime_of(app).sessionmaker() as session:
        return list(await session.scalars(select(Task).where(Task.project_id == project_id)))


async def test_viewers_read_operators_write_admins_delete(app: FastAPI) -> None:
    viewer, viewer_csrf = await console_client(app, "viewer")
    operator, csrf = await console_client(app, "operator")
    admin, admin_csrf = await console_client(app, "admin")
    name = unique("proj")
    async with aclosing(viewer), aclosing(operator), aclosing(admin):
        index = await viewer.get("/ui/registry")
        assert index.status_code == 200
        for path in ("projects", "tasks", "servers", "task_executions"):
            assert f'href="/ui/registry/{path}"' in index.text
        listed = await viewer.get("/ui/registry/projects")
        assert listed.status_code == 200 and 'id="readonly-note"' in listed.text
        assert 'id="registry-form"' not in listed.text
        refused = await viewer.post(
            "/ui/registry/projects",
            data={"name": name},
            headers={**HTMX, "X-CSRF-Token": viewer_csrf},
        )
        assert refused.status_code == 403 and await _project(app, name) is None

        headers = {**HTMX, "X-CSRF-Token": csrf, "HX-Target": "registry-body"}
        created = await operator.post(
            "/ui/registry/projects",
            data={"name": name, "status": "active", "modules": '["api", "web"]',
                  "config": '{"tier": 2}', "description": "made in the console"},
            headers=headers,
        )  # fmt: skip
        assert created.status_code == 200, created.text
        project = await _project(app, name)
        assert project is not None and project.status == "active"
        assert project.modules == ["api", "web"] and project.config == {"tier": 2}
        assert f'<tr data-row="{project.id}">' in created.text

        task = await operator.post(
            "/ui/registry/tasks",
            data={"title": "wire it up", "project_id": str(project.id), "priority": "5"},
            headers=headers,
        )
        assert task.status_code == 200 and len(await _tasks(app, project.id)) == 1

        row = await viewer.get(f"/ui/registry/projects/{project.id}")
        assert row.status_code == 200 and "made in the console" in row.text
        assert "Save project" not in row.text and "Delete project" not in row.text
        edit = await operator.post(
            f"/ui/registry/projects/{project.id}",
            data={"name": name, "status": "archived", "modules": '["api"]', "config": "",
                  "description": ""},
            headers={**HTMX, "X-CSRF-Token": csrf, "HX-Target": "registry-row"},
        )  # fmt: skip
        assert edit.status_code == 200 and "Saved project" in edit.headers["HX-Trigger"]
        project = await _project(app, name)
        assert project is not None and project.status == "archived"
        assert project.modules == ["api"] and project.description is None
        assert project.config == {"tier": 2}  # an empty JSON field is left as it was
        own_row = await operator.get(f"/ui/registry/projects/{project.id}")
        assert "Save project" in own_row.text and "Delete project" not in own_row.text

        denied = await operator.post(
            f"/ui/registry/projects/{project.id}/delete",
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert denied.status_code == 403 and await _project(app, name) is not None
        admin_headers = {**HTMX, "X-CSRF-Token": admin_csrf}
        blocked = await admin.post(
            f"/ui/registry/projects/{project.id}/delete", headers=admin_headers
        )
        assert (
            blocked.status_code == 409 and "also delete the rows" in blocked.headers["HX-Trigger"]
        )
        assert await _project(app, name) is not None
        deleted = await admin.post(
            f"/ui/registry/projects/{project.id}/delete",
            data={"cascade": "on"},
            headers=admin_headers,
        )
        assert deleted.status_code == 200
        assert deleted.headers["HX-Redirect"] == f"/ui/registry/projects?deleted={project.id}"
        assert await _project(app, name) is None and await _tasks(app, project.id) == []


async def test_bad_input_is_shown_by_field_and_changes_nothing(app: FastAPI) -> None:
    operator, csrf = await console_client(app, "operator")
    headers = {**HTMX, "X-CSRF-Token": csrf, "HX-Target": "registry-body"}
    name = unique("srv")
    async with aclosing(operator):
        bad = await operator.post(
            "/ui/registry/servers",
            data={"name": name, "host": "", "status": "melted", "capacity": "{not json"},
            headers=headers,
        )
        assert bad.status_code == 422
        assert 'id="err-new-capacity">Not valid JSON' in bad.text
        assert f'value="{name}"' in bad.text and "{not json" in bad.text
        typed_ok = await operator.post(
            "/ui/registry/servers",
            data={"name": name, "host": "", "status": "melted"},
            headers=headers,
        )
        assert typed_ok.status_code == 422
        assert 'id="err-new-host">Field required' in typed_ok.text
        assert 'id="err-new-status">Input should be' in typed_ok.text
        async with runtime_of(app).sessionmaker() as session:
            assert await session.scalar(select(Server).where(Server.name == name)) is None

        missing_ref = await operator.post(
            "/ui/registry/tasks",
            data={"title": "orphan", "project_id": "999999999"},
            headers=headers,
        )
        assert missing_ref.status_code == 422
        assert 'id="err-new-project_id">No projects row 999999999' in missing_ref.text

        made = await operator.post(
            "/ui/registry/servers", data={"name": name, "host": "10.0.0.1"}, headers=headers
        )
        assert made.status_code == 200
        duplicate = await operator.post(
            "/ui/registry/servers", data={"name": name, "host": "10.0.0.2"}, headers=headers
        )
        assert duplicate.status_code == 422 and "already exists" in duplicate.text
        async with runtime_of(app).sessionmaker() as session:
            rows = list(await session.scalars(select(Server).where(Server.name == name)))
        assert [s.host for s in rows] == ["10.0.0.1"]
        server_id = rows[0].id
        cleared = await operator.post(
            f"/ui/registry/servers/{server_id}",
            data={"name": "", "host": "10.0.0.9"},
            headers={**HTMX, "X-CSRF-Token": csrf, "HX-Target": "registry-row"},
        )
        assert cleared.status_code == 422 and 'id="err-edit-name">may not be null' in cleared.text
        async with runtime_of(app).sessionmaker() as session:
            server = await session.get(Server, server_id)
            assert server is not None and server.host == "10.0.0.1" and server.name == name
        assert (await operator.get("/ui/registry/nothing")).status_code == 404
        assert (await operator.get("/ui/registry/servers/abc")).status_code == 404
        # An id past the database's 64-bit range is no row, on either database (not a 500).
        assert (await operator.get(f"/ui/registry/servers/{2**63}")).status_code == 404
        assert (await operator.get("/ui/registry/servers/0")).status_code == 404
