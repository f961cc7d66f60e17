"""The Locks card on the workers page and `foredeck locks list|release`."""

from __future__ import annotations

import json
from contextlib import aclosing
from pathlib import Path

from fastapi import FastAPI

from foredeck.db import transaction
from foredeck.jobs import locks as locks_service
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Lock
from tests.conftest import unique
from tests.console.helpers import HTMX, console_client
from tests.test_cli import run


async def test_locks_card_shows_holders_and_only_admins_release(app: FastAPI) -> None:
    name = unique("card")
    async with transaction(runtime_of(app).sessionmaker) as session:
        fence = await locks_service.acquire(
            session, name, holder="stuck-process", lease_seconds=600
        )
    admin, admin_csrf = await console_client(app, "admin")
    operator, operator_csrf = await console_client(app, "operator")
    async with aclosing(admin), aclosing(operator):
        page = await operator.get("/ui/workers")
        assert page.status_code == 200
        row = page.text.split(f'<tr data-lock="{name}">', 1)[1].split("</tr>", 1)[0]
        assert "held" in row and "stuck-process" in row and "until" in row
        # Operators see the card but not the release control, and the server refuses them.
        assert "/ui/locks/release" not in row
        refused = await operator.post(
            "/ui/locks/release",
            data={"name": name},
            headers={**HTMX, "X-CSRF-Token": operator_csrf},
        )
        assert refused.status_code == 403
        shown = await admin.get("/ui/workers")
        admin_row = shown.text.split(f'<tr data-lock="{name}">', 1)[1].split("</tr>", 1)[0]
        assert f"Release lock {name}?" in admin_row
        freed = await admin.post(
            "/ui/locks/release", data={"name": name}, headers={**HTMX, "X-CSRF-Token": admin_csrf}
        )
        assert freed.status_code == 204 and "released" in freed.headers["HX-Trigger"]
        missing = await admin.post(
            "/ui/locks/release",
            data={"name": unique("none")},
            headers={**HTMX, "X-CSRF-Token": admin_csrf},
        )
        assert missing.status_code == 404
    async with runtime_of(app).sessionmaker() as session:
        lock = await session.get(Lock, name)
        assert lock is not None and not locks_service.is_held(lock) and lock.fence == fence + 1


def test_cli_lists_and_releases_locks(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    take = run(
        [
            "-c",
            "import asyncio, sys;"
            "from foredeck.config import Config;"
            "from foredeck.cli.common import run_in_session;"
            "from foredeck.jobs import locks;"
            "run_in_session(Config(data_dir=sys.argv[1]),"
            " lambda s: locks.acquire(s, 'export', holder='gone-host:42'))",
            str(tmp_path),
        ],
        tmp_path,
        python=True,
    )
    assert take.returncode == 0, take.stderr
    listed = run(["locks", "list", "--json"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    (lock,) = json.loads(listed.stdout)
    assert lock["name"] == "export" and lock["held"] and lock["holder"] == "gone-host:42"
    table = run(["locks", "list"], tmp_path)
    assert "gone-host:42" in table.stdout and "until released" in table.stdout
    declined = run(["locks", "release", "export"], tmp_path, input="n\n")
    assert declined.returncode == 1
    assert json.loads(run(["locks", "list", "--json"], tmp_path).stdout)[0]["held"] is True
    released = run(["locks", "release", "export", "--yes"], tmp_path)
    assert released.returncode == 0 and "released export" in released.stdout
    assert json.loads(run(["locks", "list", "--json"], tmp_path).stdout)[0]["held"] is False
    unknown = run(["locks", "release", "nope", "--yes"], tmp_path)
    assert unknown.returncode == 1 and "No lock named nope" in unknown.stdout + unknown.stderr
