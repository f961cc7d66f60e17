"""Signing in to the console from tests: a real login through the form."""

from __future__ import annotations

import re

import httpx
from fastapi import FastAPI

from foredeck.auth import service as auth_service
from foredeck.auth.schemas import Role
from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from tests.conftest import PASSWORD, unique

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def form_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form has no CSRF token"
    return found.group(1)


async def new_user(app: FastAPI, role: str) -> str:
    name = unique(f"ui{role}")
    async with transaction(runtime_of(app).sessionmaker) as session:
        await auth_service.create_user(session, username=name, password=PASSWORD, role=Role(role))
    return name


async def sign_in(client: httpx.AsyncClient, username: str) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    page = await client.get("/ui/login")
    resp = await client.post(
        "/ui/login",
        data={
            "username": username,
            "password": PASSWORD,
            "csrf_token": form_token(page.text),
            "next": "/ui/",
        },
    )
    assert resp.status_code == 303, resp.text
    home = await client.get("/ui/")
    assert home.status_code == 200, home.text
    match = CSRF_META.search(home.text)
    assert match
    return match.group(1)


async def console_client(
    app: FastAPI, role: str = "operator", base_url: str | None = None
) -> tuple[httpx.AsyncClient, str]:
    """A new cookie-carrying client signed in as a fresh user; returns it and its CSRF token."""
    name = await new_user(app, role)
    if base_url:
        client = httpx.AsyncClient(base_url=base_url, timeout=30)
    else:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    return client, await sign_in(client, name)


HTMX = {"HX-Request": "true"}
