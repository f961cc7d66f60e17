"""Tokens, API keys, roles, users/me, preferences, search and admin user CRUD."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from foredeck.auth import security
from foredeck.config import Config
from tests.conftest import PASSWORD, assert_error, unique


async def test_token_login_and_me(client: httpx.AsyncClient, make_user) -> None:
    name = unique("me")
    headers = await make_user("operator", username=name)
    me = (await client.get("/api/v1/users/me", headers=headers)).json()["data"]
    assert me["username"] == name and me["role"] == "operator"
    assert "password_hash" not in me


async def test_wrong_password_and_missing_token(client: httpx.AsyncClient, make_user) -> None:
    name = unique("pw")
    await make_user("viewer", username=name)
    resp = await client.post("/api/v1/auth/token", json={"username": name, "password": "nope"})
    assert_error(resp, 401, "INVALID_CREDENTIALS")
    assert_error(await client.get("/api/v1/users/me"), 401, "UNAUTHORIZED")
    bad = {"Authorization": "Bearer garbage"}
    assert_error(await client.get("/api/v1/users/me", headers=bad), 401, "INVALID_TOKEN")


async def test_expired_token(client: httpx.AsyncClient, config: Config, make_user) -> None:
    import time

    from itsdangerous import URLSafeTimedSerializer

    headers = await make_user("viewer")
    me = (await client.get("/api/v1/users/me", headers=headers)).json()["data"]
    serializer = URLSafeTimedSerializer(config.resolved_secret_key, salt=security.TOKEN_SALT)
    old = serializer.dumps({"uid": me["id"]})
    real_time = time.time
    try:
        time.time = lambda: real_time() + config.token_ttl_seconds + 10  # type: ignore[assignment]
        resp = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {old}"})
    finally:
        time.time = real_time  # type: ignore[assignment]
    assert_error(resp, 401, "TOKEN_EXPIRED")


async def test_unknown_field_in_strict_body(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/api/v1/auth/token", json={"username": "a", "password": "b", "extra": 1}
    )
    err = assert_error(resp, 422, "VALIDATION_ERROR")
    assert any(d["field"] == "extra" for d in err["details"])


async def test_me_patch_and_preferences(client: httpx.AsyncClient, make_user) -> None:
    headers = await make_user("viewer")
    resp = await client.patch(
        "/api/v1/users/me", json={"display_name": "Ada L", "first_name": "Ada"}, headers=headers
    )
    assert resp.json()["data"]["display_name"] == "Ada L"
    prefs = (await client.get("/api/v1/users/me/preferences", headers=headers)).json()["data"]
    assert prefs == {
        "theme": "system",
        "language": "en",
        "email_notifications": True,
        "push_notifications": False,
    }
    resp = await client.patch(
        "/api/v1/users/me/preferences", json={"theme": "dark"}, headers=headers
    )
    assert resp.json()["data"]["theme"] == "dark"
    again = (await client.get("/api/v1/users/me/preferences", headers=headers)).json()["data"]
    assert again["theme"] == "dark" and again["language"] == "en"
    bad = await client.patch(
        "/api/v1/users/me/preferences", json={"theme": "neon"}, headers=headers
    )
    assert_error(bad, 422)
    unchanged = (await client.get("/api/v1/users/me/preferences", headers=headers)).json()
    assert unchanged["data"]["theme"] == "dark"
    too_long = await client.patch(
        "/api/v1/users/me", json={"display_name": "x" * 500}, headers=headers
    )
    assert_error(too_long, 422)


async def test_user_search(client: httpx.AsyncClient, make_user) -> None:
    tag = unique("srch")
    await make_user("viewer", username=f"{tag}_alice")
    headers = await make_user("viewer", username=f"{tag}_bob")
    found = (
        await client.get("/api/v1/users/search", params={"q": tag, "limit": 10}, headers=headers)
    ).json()["data"]
    assert sorted(u["username"] for u in found) == [f"{tag}_alice", f"{tag}_bob"]
    assert "email" not in found[0]
    assert_error(
        await client.get("/api/v1/users/search", params={"q": tag, "limit": 500}, headers=headers),
        422,
    )


async def test_admin_user_crud_and_roles(
    client: httpx.AsyncClient, admin: dict, viewer: dict
) -> None:
    name = unique("crud")
    resp = await client.post(
        "/api/v1/users",
        json={"username": name, "password": "long-enough-pw", "role": "operator"},
        headers=admin,
    )
    assert resp.status_code == 201
    user_id = resp.json()["data"]["id"]
    dup = await client.post(
        "/api/v1/users", json={"username": name, "password": "long-enough-pw"}, headers=admin
    )
    assert_error(dup, 409, "USER_EXISTS")
    assert_error(await client.get("/api/v1/users", headers=viewer), 403, "INSUFFICIENT_ROLE")
    patched = await client.patch(f"/api/v1/users/{user_id}", json={"role": "viewer"}, headers=admin)
    assert patched.json()["data"]["role"] == "viewer"
    listing = (await client.get("/api/v1/users?per_page=200", headers=admin)).json()
    assert listing["meta"]["total"] >= 1
    assert (await client.delete(f"/api/v1/users/{user_id}", headers=admin)).status_code == 204
    assert_error(await client.get(f"/api/v1/users/{user_id}", headers=admin), 404)


async def test_api_key_lifecycle(client: httpx.AsyncClient, make_user) -> None:
    headers = await make_user("operator")
    created = await client.post("/api/v1/api_keys", json={"name": "ci"}, headers=headers)
    assert created.status_code == 201
    data = created.json()["data"]
    secret = data["key"]
    assert secret.startswith("fdk_" + data["prefix"])
    key_headers = {"Authorization": f"Bearer {secret}"}
    me = await client.get("/api/v1/users/me", headers=key_headers)
    assert me.status_code == 200
    listed = (await client.get("/api/v1/api_keys", headers=headers)).json()["data"]
    assert [k["prefix"] for k in listed] == [data["prefix"]]
    assert "key" not in listed[0] and listed[0]["last_used_at"] is not None
    revoked = await client.delete(f"/api/v1/api_keys/{data['id']}", headers=headers)
    assert revoked.json()["data"]["revoked_at"] is not None
    assert_error(await client.get("/api/v1/users/me", headers=key_headers), 401, "API_KEY_REVOKED")
    forged = {"Authorization": f"Bearer fdk_{data['prefix']}_forgedsecret"}
    assert_error(await client.get("/api/v1/users/me", headers=forged), 401, "INVALID_API_KEY")


async def test_trusted_header_identity(app: FastAPI, config: Config, make_user) -> None:
    from foredeck.app import create_app

    ext = unique("tg")
    admin_headers = await make_user("admin")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        await c.post(
            "/api/v1/users",
            json={"username": unique("tgu"), "role": "viewer", "external_id": ext},
            headers=admin_headers,
        )
        # Off by default: the header alone is not enough.
        assert_error(await c.get("/api/v1/users/me", headers={"X-Telegram-ID": ext}), 401)
    gated = create_app(config.model_copy(update={"trusted_header_auth": True}))
    async with gated.router.lifespan_context(gated):
        transport = httpx.ASGITransport(app=gated)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            me = await c.get("/api/v1/users/me", headers={"X-Telegram-ID": ext})
            assert me.status_code == 200 and me.json()["data"]["external_id"] == ext
            unknown = await c.get("/api/v1/users/me", headers={"X-Telegram-ID": "nobody"})
            assert_error(unknown, 401, "UNKNOWN_IDENTITY")


def test_password_hash_is_argon2() -> None:
    hashed = security.hash_password(PASSWORD)
    assert hashed.startswith("$argon2")
    assert security.verify_password(hashed, PASSWORD)
    assert not security.verify_password(hashed, "other")
