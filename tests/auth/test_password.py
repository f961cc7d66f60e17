"""Changing your own password, an admin reset, and what each signs out."""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import httpx
from fastapi import FastAPI

from tests.conftest import PASSWORD, assert_error, unique
from tests.console.helpers import console_client, form_token, sign_in
from tests.test_cli import run

NEW = "a-new-password-456"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _token(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", json={"username": username, "password": password}
    )


async def test_own_password_change_revokes_tokens_but_not_api_keys(
    client: httpx.AsyncClient, make_user
) -> None:
    name = unique("pwc")
    first = await make_user("viewer", username=name)
    second = _bearer((await _token(client, name, PASSWORD)).json()["data"]["access_token"])
    key = await client.post("/api/v1/api_keys", json={"name": "laptop"}, headers=first)
    assert key.status_code == 201, key.text
    api_key = _bearer(key.json()["data"]["key"])

    wrong = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": "not-it-at-all", "new_password": NEW},
        headers=first,
    )
    err = assert_error(wrong, 422, "WRONG_PASSWORD")
    assert err["details"][0]["field"] == "current_password"
    short = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": "short"},
        headers=first,
    )
    assert_error(short, 422, "VALIDATION_ERROR")
    same = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": PASSWORD},
        headers=first,
    )
    assert_error(same, 422)
    # Refused attempts changed nothing: both tokens and the old password still work.
    assert (await client.get("/api/v1/users/me", headers=second)).status_code == 200
    assert (await _token(client, name, PASSWORD)).status_code == 200

    changed = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers=first,
    )
    assert changed.status_code == 200, changed.text
    fresh = _bearer(changed.json()["data"]["access_token"])
    for old in (first, second):
        assert_error(await client.get("/api/v1/users/me", headers=old), 401, "TOKEN_REVOKED")
    assert (await client.get("/api/v1/users/me", headers=fresh)).json()["data"]["username"] == name
    assert (await client.get("/api/v1/users/me", headers=api_key)).status_code == 200
    assert_error(await _token(client, name, PASSWORD), 401, "INVALID_CREDENTIALS")
    assert (await _token(client, name, NEW)).status_code == 200


async def test_admin_reset_signs_the_user_out(
    client: httpx.AsyncClient, make_user, admin: dict[str, str]
) -> None:
    name = unique("rst")
    headers = await make_user("operator", username=name)
    me = (await client.get("/api/v1/users/me", headers=headers)).json()["data"]
    reset = await client.patch(f"/api/v1/users/{me['id']}", json={"password": NEW}, headers=admin)
    assert reset.status_code == 200, reset.text
    assert_error(await client.get("/api/v1/users/me", headers=headers), 401, "TOKEN_REVOKED")
    assert (await _token(client, name, NEW)).status_code == 200
    # Changing something else (no password) signs nobody out.
    again = _bearer((await _token(client, name, NEW)).json()["data"]["access_token"])
    renamed = await client.patch(
        f"/api/v1/users/{me['id']}", json={"display_name": "Renamed"}, headers=admin
    )
    assert renamed.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=again)).status_code == 200


async def test_console_password_change_keeps_this_browser_and_signs_out_others(
    app: FastAPI,
) -> None:
    here, _ = await console_client(app, "viewer")
    name = (await here.get("/api/v1/users/me")).json()["data"]["username"]
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    async with aclosing(here), other:
        await sign_in(other, name)
        page = await here.get("/ui/account")
        assert page.status_code == 200 and 'name="current_password"' in page.text
        csrf = form_token(page.text)

        async def change(current: str, confirm: str) -> httpx.Response:
            form = {"current_password": current, "new_password": NEW, "confirm_password": confirm}
            return await here.post("/ui/account/password", data={"csrf_token": csrf, **form})

        mismatch = await change(PASSWORD, NEW + "x")
        assert mismatch.status_code == 422 and "The two new passwords differ" in mismatch.text
        wrong = await change("nope-nope-nope", NEW)
        assert wrong.status_code == 422 and "The current password is wrong" in wrong.text
        assert (await other.get("/ui/account")).status_code == 200

        done = await change(PASSWORD, NEW)
        assert done.status_code == 303 and done.headers["location"] == "/ui/account?changed=1"
        shown = await here.get("/ui/account?changed=1")
        assert shown.status_code == 200 and 'id="password-changed"' in shown.text
        refused = await other.get("/ui/account")
        assert refused.status_code in (303, 307) and "/ui/login" in refused.headers["location"]
        assert (await other.get("/api/v1/users/me")).status_code == 401


def test_cli_resets_a_local_password(tmp_path: Path) -> None:
    made = run(["users", "create", "ops", "--password", PASSWORD], tmp_path)
    assert made.returncode == 0, made.stderr
    short = run(["users", "set-password", "ops"], tmp_path, input="short\nshort\n")
    assert short.returncode == 2 and "at least 8" in short.stdout + short.stderr
    missing = run(["users", "set-password", "nobody"], tmp_path, input=f"{NEW}\n{NEW}\n")
    assert missing.returncode == 1 and "No user named nobody" in missing.stdout + missing.stderr
    reset = run(["users", "set-password", "ops"], tmp_path, input=f"{NEW}\n{NEW}\n")
    assert reset.returncode == 0, reset.stderr
    check = run(
        [
            "-c",
            "import sys;"
            "from foredeck.config import Config;"
            "from foredeck.cli.common import run_in_session;"
            "from foredeck.auth import service as s;"
            "print(run_in_session(Config(data_dir=sys.argv[1]),"
            " lambda db: s.authenticate(db, username='ops', password=sys.argv[2])).username)",
            str(tmp_path),
            NEW,
        ],
        tmp_path,
        python=True,
    )
    assert check.returncode == 0 and check.stdout.strip().endswith("ops"), check.stderr
