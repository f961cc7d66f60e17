"""The console's Users page: admins only, the API's rules (SELF_LOCKOUT), inline errors."""

from __future__ import annotations

import json
import re
from contextlib import aclosing

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from foredeck.auth.security import verify_password
from foredeck.kit.runtime import runtime_of
from foredeck.models.auth import User
from tests.conftest import unique
from tests.console.helpers import HTMX, console_client, new_user


async def _user(app: FastAPI, username: str) -> User | None:
    async with runtime_of(app).sessionmaker() as session:
        return await session.scalar(select(User).where(User.username == username))


async def _listing(client: httpx.AsyncClient, username: str) -> str:
    """The page of the users list that shows this user (the shared database holds many)."""
    page, pages = 1, 1
    while page <= pages:
        html = (await client.get("/ui/users", params={"page": page})).text
        if f'<tr data-user="{username}">' in html:
            return html
        found = re.search(r"Page \d+ of (\d+)", html)
        pages = int(found.group(1)) if found else 1
        page += 1
    raise AssertionError(f"{username} is on no page of the users list")


def _toast(resp: httpx.Response) -> str:
    return str(json.loads(resp.headers["HX-Trigger"])["fd:toast"]["message"])


async def test_only_admins_open_users_and_the_nav_says_so(app: FastAPI) -> None:
    admin, _ = await console_client(app, "admin")
    operator, op_csrf = await console_client(app, "operator")
    viewer, _ = await console_client(app, "viewer")
    async with aclosing(admin), aclosing(operator), aclosing(viewer):
        page = await admin.get("/ui/users")
        assert page.status_code == 200 and 'href="/ui/users"' in page.text
        for client in (operator, viewer):
            refused = await client.get("/ui/users")
            assert refused.status_code == 403 and "admin role" in refused.text
            assert 'href="/ui/users"' not in (await client.get("/ui/")).text
        name = unique("nobody")
        created = await operator.post(
            "/ui/users",
            data={"username": name, "role": "admin", "password": "long-enough-1"},
            headers={**HTMX, "X-CSRF-Token": op_csrf},
        )
        assert created.status_code == 403 and await _user(app, name) is None


async def test_admin_creates_changes_resets_and_deletes_users(app: FastAPI) -> None:
    admin, csrf = await console_client(app, "admin")
    headers = {**HTMX, "X-CSRF-Token": csrf}
    name = unique("newbie")
    async with aclosing(admin):
        created = await admin.post(
            "/ui/users",
            data={"username": name, "role": "operator", "email": f"{name}@example.org",
                  "password": "long-enough-1"},
            headers={**headers, "HX-Target": "user-form"},
        )  # fmt: skip
        assert created.status_code == 200 and f"User {name} created" in _toast(created)
        assert 'id="user-form"' in created.text and f'value="{name}"' not in created.text
        user = await _user(app, name)
        assert user is not None and user.role == "operator" and user.email == f"{name}@example.org"
        row = (await _listing(admin, name)).split(f'<tr data-user="{name}">', 1)[1]
        row = row.split("</tr>", 1)[0]
        assert "never" in row and f"Delete user {name}?" in row and "signed out" in row

        role = await admin.post(
            f"/ui/users/{user.id}/role", data={"role": "viewer"}, headers=headers
        )
        assert role.status_code == 204 and f"{name} is now viewer" in _toast(role)
        disabled = await admin.post(f"/ui/users/{user.id}/disable", headers=headers)
        assert disabled.status_code == 204
        changed = await _user(app, name)
        assert changed is not None and changed.role == "viewer" and not changed.is_active
        enabled = await admin.post(f"/ui/users/{user.id}/enable", headers=headers)
        assert enabled.status_code == 204
        assert (await _user(app, name)).is_active  # type: ignore[union-attr]

        reset = await admin.post(
            f"/ui/users/{user.id}/password", data={"password": "brand-new-pass"}, headers=headers
        )
        assert reset.status_code == 204 and "signed out everywhere" in _toast(reset)
        after = await _user(app, name)
        assert after is not None and verify_password(after.password_hash or "", "brand-new-pass")
        assert after.credentials_changed_at is not None

        deleted = await admin.post(f"/ui/users/{user.id}/delete", headers=headers)
        assert deleted.status_code == 204 and await _user(app, name) is None


async def test_admins_cannot_lock_themselves_out(app: FastAPI) -> None:
    name = await new_user(app, "admin")
    from tests.console.helpers import sign_in

    admin = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    async with aclosing(admin):
        headers = {**HTMX, "X-CSRF-Token": await sign_in(admin, name)}
        me = await _user(app, name)
        assert me is not None
        for path, data in (
            ("role", {"role": "operator"}),
            ("disable", {}),
            ("delete", {}),
        ):
            refused = await admin.post(f"/ui/users/{me.id}/{path}", data=data, headers=headers)
            assert refused.status_code == 409, path
            assert "themselves" in _toast(refused)
        still = await _user(app, name)
        assert still is not None and still.role == "admin" and still.is_active


async def test_bad_input_shows_inline_errors_and_changes_nothing(app: FastAPI) -> None:
    admin, csrf = await console_client(app, "admin")
    headers = {**HTMX, "X-CSRF-Token": csrf}
    taken = await new_user(app, "viewer")
    async with aclosing(admin):
        bad = await admin.post(
            "/ui/users",
            data={"username": "has space", "role": "operator", "email": "nope",
                  "password": "short"},
            headers={**headers, "HX-Target": "user-form"},
        )  # fmt: skip
        assert bad.status_code == 422
        assert bad.text.count('aria-invalid="true"') == 3
        assert 'value="has space"' in bad.text and 'value="nope"' in bad.text
        assert "short" not in bad.text and await _user(app, "has space") is None

        duplicate = await admin.post(
            "/ui/users",
            data={"username": taken, "role": "admin", "password": "long-enough-1"},
            headers={**headers, "HX-Target": "user-form"},
        )
        assert duplicate.status_code == 422 and f"User &#39;{taken}&#39; already exists" in (
            duplicate.text
        )
        assert (await _user(app, taken)).role == "viewer"  # type: ignore[union-attr]

        victim = await _user(app, taken)
        assert victim is not None
        short = await admin.post(
            f"/ui/users/{victim.id}/password",
            data={"password": "short"},
            headers={**headers, "HX-Target": "users-body"},
        )
        assert short.status_code == 422 and 'id="users-body"' in short.text
        assert f'id="err-{victim.id}-password">String should have at least 8' in short.text
        unchanged = await _user(app, taken)
        assert unchanged is not None and unchanged.credentials_changed_at is None

        role = await admin.post(
            f"/ui/users/{victim.id}/role", data={"role": "root"}, headers=headers
        )
        assert role.status_code == 422 and (await _user(app, taken)).role == "viewer"  # type: ignore[union-attr]
        missing = await admin.post("/ui/users/999999999/disable", headers=headers)
        assert missing.status_code == 404
