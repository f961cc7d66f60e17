"""Console sign-in, session cookie, CSRF and role rules."""

from __future__ import annotations

import time
import uuid
from contextlib import aclosing

import httpx
from fastapi import FastAPI
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from foredeck.console import session as console_session
from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.models.jobs import Worker
from foredeck.models.records import Memory
from tests.conftest import PASSWORD, assert_error
from tests.console.helpers import HTMX, console_client, form_token, new_user


def _plain(app: FastAPI, base_url: str = "http://test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def _worker(app: FastAPI) -> str:
    worker_id = f"test-{uuid.uuid4().hex[:8]}"
    async with transaction(runtime_of(app).sessionmaker) as session:
        session.add(Worker(id=worker_id, host="testhost", pid=1, role="test", queues=["t"]))
    return worker_id


async def _paused(app: FastAPI, worker_id: str) -> bool:
    async with runtime_of(app).sessionmaker() as session:
        worker = await session.get(Worker, worker_id)
        assert worker is not None
        return worker.paused


async def test_login_sets_a_secure_session_cookie(app: FastAPI) -> None:
    name = await new_user(app, "viewer")
    async with _plain(app, "https://test") as client:
        page = await client.get("/ui/login")
        assert page.status_code == 200 and 'name="password"' in page.text
        resp = await client.post(
            "/ui/login",
            data={"username": name, "password": PASSWORD, "csrf_token": form_token(page.text)},
        )
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/"
        cookie = next(
            c for c in resp.headers.get_list("set-cookie") if c.startswith("foredeck_session=")
        )
        lowered = cookie.lower()
        assert "httponly" in lowered and "samesite=lax" in lowered and "secure" in lowered
        assert (await client.get("/ui/")).status_code == 200


async def test_plain_http_cookie_is_not_secure(app: FastAPI) -> None:
    name = await new_user(app, "viewer")
    async with _plain(app) as client:
        page = await client.get("/ui/login")
        resp = await client.post(
            "/ui/login",
            data={"username": name, "password": PASSWORD, "csrf_token": form_token(page.text)},
        )
        cookie = next(
            c for c in resp.headers.get_list("set-cookie") if c.startswith("foredeck_session=")
        )
        assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


async def test_wrong_password_and_missing_token_are_refused(app: FastAPI) -> None:
    name = await new_user(app, "viewer")
    async with _plain(app) as client:
        page = await client.get("/ui/login")
        token = form_token(page.text)
        bad = await client.post(
            "/ui/login", data={"username": name, "password": "nope", "csrf_token": token}
        )
        assert bad.status_code == 401
        assert "Wrong username or password" in bad.text
        assert f'value="{name}"' in bad.text  # what the user typed is kept
        assert "foredeck_session" not in bad.headers.get("set-cookie", "")
        forged = await client.post(
            "/ui/login", data={"username": name, "password": PASSWORD, "csrf_token": "forged"}
        )
        assert forged.status_code == 403
        assert "foredeck_session=" not in forged.headers.get("set-cookie", "")


async def test_signed_out_pages_go_to_login_and_back(app: FastAPI) -> None:
    name = await new_user(app, "viewer")
    async with _plain(app) as client:
        resp = await client.get("/ui/jobs?status=failed")
        assert resp.status_code == 303
        assert resp.headers["location"] == "/ui/login?next=/ui/jobs%3Fstatus%3Dfailed"
        htmx = await client.get(
            "/ui/workers", headers={**HTMX, "HX-Current-URL": "http://test/ui/workers"}
        )
        assert htmx.headers["HX-Redirect"] == "/ui/login?next=/ui/workers"
        page = await client.get("/ui/login?next=/ui/jobs%3Fstatus%3Dfailed")
        back = await client.post(
            "/ui/login",
            data={
                "username": name,
                "password": PASSWORD,
                "csrf_token": form_token(page.text),
                "next": "/ui/jobs?status=failed",
            },
        )
        assert back.headers["location"] == "/ui/jobs?status=failed"


async def test_next_never_leaves_the_site(app: FastAPI) -> None:
    name = await new_user(app, "viewer")
    async with _plain(app) as client:
        for target in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
            page = await client.get("/ui/login")
            resp = await client.post(
                "/ui/login",
                data={
                    "username": name,
                    "password": PASSWORD,
                    "csrf_token": form_token(page.text),
                    "next": target,
                },
            )
            assert resp.status_code == 303, resp.text[:800]
            assert resp.headers["location"] == "/ui/"


async def test_expired_session_returns_to_login(app: FastAPI) -> None:
    name = await new_user(app, "viewer")
    async with runtime_of(app).sessionmaker() as session:
        from foredeck.auth import service as auth_service

        user = await auth_service.get_by_username(session, name)
        assert user is not None

    class _Old(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - runtime_of(app).config.token_ttl_seconds - 60

    old = URLSafeTimedSerializer(
        runtime_of(app).config.resolved_secret_key, salt=console_session.SALT, signer=_Old
    ).dumps({"u": user.id, "s": "x", "c": "y"})
    async with _plain(app) as client:
        client.cookies.set("foredeck_session", old)
        resp = await client.get("/ui/index")
        assert resp.status_code == 303
        assert resp.headers["location"].startswith("/ui/login?next=/ui/index")


async def test_csrf_is_required_on_every_console_write(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    worker_id = await _worker(app)
    async with aclosing(client):
        body = {"worker_id": worker_id, "action": "pause"}
        missing = await client.post("/ui/workers/control", data=body, headers=HTMX)
        assert missing.status_code == 403 and "security token" in missing.headers["HX-Trigger"]
        forged = await client.post(
            "/ui/workers/control", data={**body, "csrf_token": "forged"}, headers=HTMX
        )
        assert forged.status_code == 403
        header_forged = await client.post(
            "/ui/workers/control", data=body, headers={**HTMX, "X-CSRF-Token": "forged"}
        )
        assert header_forged.status_code == 403
        assert await _paused(app, worker_id) is False
        ok = await client.post(
            "/ui/workers/control", data=body, headers={**HTMX, "X-CSRF-Token": csrf}
        )
        assert ok.status_code == 204 and "paused" in ok.headers["HX-Trigger"]
        assert await _paused(app, worker_id) is True
        # A plain form (no JavaScript) carries the token as a field and gets a redirect.
        plain = await client.post(
            "/ui/workers/control",
            data={"worker_id": worker_id, "action": "resume", "csrf_token": csrf},
        )
        assert plain.status_code == 303 and plain.headers["location"] == "/ui/workers"
        assert await _paused(app, worker_id) is False


async def test_cookie_on_the_api_needs_the_csrf_header(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        assert (await client.get("/api/v1/memories?per_page=1")).status_code == 200
        content = f"cookie-{uuid.uuid4().hex}"
        refused = await client.post("/api/v1/memories", json={"content": content})
        assert_error(refused, 403, "CSRF_FAILED")
        async with runtime_of(app).sessionmaker() as session:
            from sqlalchemy import func, select

            count = await session.scalar(
                select(func.count()).select_from(Memory).where(Memory.content == content)
            )
            assert count == 0
        accepted = await client.post(
            "/api/v1/memories", json={"content": content}, headers={"X-CSRF-Token": csrf}
        )
        assert accepted.status_code == 201, accepted.text


async def test_sign_out_revokes_the_cookie(app: FastAPI) -> None:
    client, csrf = await console_client(app, "viewer")
    async with aclosing(client):
        cookie = client.cookies.get("foredeck_session")
        resp = await client.post("/ui/logout", data={"csrf_token": csrf})
        assert resp.status_code == 303 and resp.headers["location"] == "/ui/login"
        client.cookies.set("foredeck_session", cookie)
        again = await client.get("/ui/")
        assert again.status_code == 303 and "/ui/login" in again.headers["location"]


async def test_viewer_sees_no_write_controls_and_cannot_write(app: FastAPI) -> None:
    client, csrf = await console_client(app, "viewer")
    worker_id = await _worker(app)
    async with aclosing(client):
        for path in ("/ui/workers", "/ui/jobs", "/ui/index", "/ui/settings"):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert "read-only" in page.text
            for control in ("Pause all", "Drain", "Rebuild index", "Restore snapshot", "Save "):
                assert f">{control}" not in page.text, (path, control)
        denied = await client.post(
            "/ui/workers/control",
            data={"worker_id": worker_id, "action": "pause"},
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert denied.status_code == 403 and "operator role" in denied.headers["HX-Trigger"]
        assert await _paused(app, worker_id) is False


async def test_operator_cannot_restore_a_snapshot(app: FastAPI) -> None:
    client, csrf = await console_client(app, "operator")
    async with aclosing(client):
        page = await client.get("/ui/index")
        assert "Restore snapshot" not in page.text
        resp = await client.post(
            "/ui/index/restore",
            files={"file": ("x.tar", b"nope")},
            headers={**HTMX, "X-CSRF-Token": csrf},
        )
        assert resp.status_code == 403
