"""The console's API keys page: own keys (admins all), the secret once, revoke, bad input."""

from __future__ import annotations

import re
from contextlib import aclosing

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from foredeck.kit.runtime import runtime_of
from foredeck.models.auth import ApiKey
from tests.conftest import assert_error, unique
from tests.console.helpers import HTMX, console_client

SECRET = re.compile(r'id="new-key-secret" class="mono" value="([^"]+)"')


async def _keys(app: FastAPI, name: str) -> list[ApiKey]:
    async with runtime_of(app).sessionmaker() as session:
        return list(await session.scalars(select(ApiKey).where(ApiKey.name == name)))


async def _create(client: httpx.AsyncClient, csrf: str, **data: str) -> httpx.Response:
    headers = {**HTMX, "X-CSRF-Token": csrf, "HX-Target": "api-keys-body"}
    return await client.post("/ui/api-keys", data=data, headers=headers)


async def test_a_viewer_creates_uses_and_revokes_their_own_key(app: FastAPI) -> None:
    viewer, csrf = await console_client(app, "viewer")
    other, other_csrf = await console_client(app, "operator")
    name = unique("script")
    async with aclosing(viewer), aclosing(other):
        page = await viewer.get("/ui/api-keys")
        assert page.status_code == 200 and 'id="key-form"' in page.text
        # The page is not read-only for viewers: anyone manages their own keys, as in the API.
        assert 'id="readonly-note"' not in page.text
        created = await _create(viewer, csrf, name=name, expires_at="2099-01-31T18:00")
        assert created.status_code == 200 and "shown only this once" in created.text
        match = SECRET.search(created.text)
        assert match, created.text
        secret = match.group(1)
        (key,) = await _keys(app, name)
        assert key.expires_at is not None and key.expires_at.year == 2099
        assert key.prefix in secret and secret not in (await viewer.get("/ui/api-keys")).text
        api = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        async with aclosing(api):
            me = await api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
            assert me.status_code == 200 and me.json()["data"]["role"] == "viewer"

            # Another non-admin neither sees nor revokes it.
            assert key.prefix not in (await other.get("/ui/api-keys")).text
            refused = await other.post(
                f"/ui/api-keys/{key.id}/revoke", headers={**HTMX, "X-CSRF-Token": other_csrf}
            )
            assert refused.status_code == 403 and (await _keys(app, name))[0].revoked_at is None

            row = (await viewer.get("/ui/api-keys")).text.split(f'<tr data-key="{key.prefix}">')[1]
            assert f"Revoke API key {name} ({key.prefix})?" in row.split("</tr>")[0]
            revoked = await viewer.post(
                f"/ui/api-keys/{key.id}/revoke", headers={**HTMX, "X-CSRF-Token": csrf}
            )
            assert revoked.status_code == 204 and "revoked" in revoked.headers["HX-Trigger"]
            assert (await _keys(app, name))[0].revoked_at is not None
            gone = await api.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
            assert gone.status_code == 401


async def test_admins_see_and_revoke_everyones_keys(app: FastAPI) -> None:
    owner, csrf = await console_client(app, "operator")
    admin, admin_csrf = await console_client(app, "admin")
    name = unique("svc")
    async with aclosing(owner), aclosing(admin):
        assert (await _create(owner, csrf, name=name)).status_code == 200
        (key,) = await _keys(app, name)
        listed = await admin.get("/ui/api-keys")
        row = listed.text.split(f'<tr data-key="{key.prefix}">')[1].split("</tr>")[0]
        assert "<th>Owner</th>" in listed.text and "uioperator" in row and "never" in row
        revoked = await admin.post(
            f"/ui/api-keys/{key.id}/revoke", headers={**HTMX, "X-CSRF-Token": admin_csrf}
        )
        assert revoked.status_code == 204 and (await _keys(app, name))[0].revoked_at is not None


async def test_bad_input_gives_inline_errors_and_creates_nothing(
    app: FastAPI, client: httpx.AsyncClient, viewer: dict[str, str]
) -> None:
    browser, csrf = await console_client(app, "viewer")
    name = unique("bad")
    async with aclosing(browser):
        empty = await _create(browser, csrf, name="", expires_at="")
        assert empty.status_code == 422 and 'id="err-name">String should have at least 1' in (
            empty.text
        )
        unreadable = await _create(browser, csrf, name=name, expires_at="next tuesday")
        assert unreadable.status_code == 422 and 'id="err-expires_at">Use a date' in unreadable.text
        assert f'value="{name}"' in unreadable.text and 'value="next tuesday"' in unreadable.text
        past = await _create(browser, csrf, name=name, expires_at="2001-01-01")
        assert past.status_code == 422 and "must be in the future" in past.text
        assert "new-key-secret" not in past.text and await _keys(app, name) == []
        # The API refuses the same past expiry by the same rule.
        api = await client.post(
            "/api/v1/api_keys", json={"name": name, "expires_at": "2001-01-01T00:00:00"},
            headers=viewer,
        )  # fmt: skip
        assert_error(api, 422)
        assert "must be in the future" in api.text and await _keys(app, name) == []
        no_csrf = await browser.post("/ui/api-keys", data={"name": name}, headers=HTMX)
        assert no_csrf.status_code == 403 and await _keys(app, name) == []
        missing = await browser.post(
            "/ui/api-keys/999999999/revoke", headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert missing.status_code == 404
