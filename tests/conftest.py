"""One app and one migrated database per test session (SQLite, or PostgreSQL when
FOREDECK_TEST_DATABASE_URL names one).

Two kinds of isolation:
- tests of services and data take the `db` fixture: a session in a transaction that is rolled
  back after the test, whatever the code under test commits;
- tests through the API and the job engine cannot: the app's workers, its point-read
  connection and its background loops commit and read on connections of their own, as in
  production. Those tests isolate themselves by the data they create (unique names), so the
  shared database never needs emptying, and put back any setting they change
  (`stored_section`).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.app import create_app
from foredeck.auth import service as auth_service
from foredeck.auth.schemas import Role
from foredeck.config import Config
from foredeck.db import transaction
from foredeck.kit.runtime import runtime_of
from foredeck.settings import service as settings_service
from foredeck.workers.parts import EXECUTOR

TEST_DB_URL = os.environ.get("FOREDECK_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("FOREDECK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "test-password-123"


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def _recreate_postgres(url: str) -> None:
    """Drop and create the test database so every run starts from the migrations."""
    import asyncpg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_dsn = url.replace("postgresql+asyncpg", "postgresql").rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("foredeck-data")


@pytest.fixture(scope="session")
async def config(data_dir: Path) -> Config:
    url = TEST_DB_URL or f"sqlite+aiosqlite:///{data_dir / 'test.db'}"
    if url.startswith("postgresql"):
        await _recreate_postgres(url)
    return Config(
        data_dir=data_dir,
        database_url=url,
        rate_limit_default="100000/minute",
        rate_limits={},
        secret_key=None,
        # The fast static model; MiniLM tests load their own (marked minilm).
        embedding_model="static-64",
        embedding_poll_seconds=0.2,
        index_sync_seconds=0,
    )


@pytest.fixture(scope="session")
async def app(config: Config) -> AsyncIterator[FastAPI]:
    application = create_app(config)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def db(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back after the test. Commits made with it (services
    commit through `transaction`, or call commit) only release savepoints inside the outer
    transaction, so nothing reaches the shared database."""
    async with runtime_of(app).engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()


UserFactory = Callable[..., Awaitable[dict[str, str]]]


@pytest.fixture(scope="session")
def make_user(app: FastAPI, client: httpx.AsyncClient) -> UserFactory:
    """Create a user with a role and return bearer headers for it."""

    async def _make(role: str = "admin", username: str | None = None) -> dict[str, str]:
        name = username or unique(role)
        async with transaction(runtime_of(app).sessionmaker) as session:
            await auth_service.create_user(
                session, username=name, password=PASSWORD, role=Role(role)
            )
        resp = await client.post(
            "/api/v1/auth/token", json={"username": name, "password": PASSWORD}
        )
        assert resp.status_code == 200, resp.text
        return {"Authorization": f"Bearer {resp.json()['data']['access_token']}"}

    return _make


@pytest.fixture(scope="session")
async def admin(make_user: UserFactory) -> dict[str, str]:
    return await make_user("admin")


@pytest.fixture(scope="session")
async def operator(make_user: UserFactory) -> dict[str, str]:
    return await make_user("operator")


@pytest.fixture(scope="session")
async def viewer(make_user: UserFactory) -> dict[str, str]:
    return await make_user("viewer")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis is required (as in CI): an unreachable server fails the test, never skips it."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    finally:
        client.close()
    return REDIS_URL


def assert_error(resp: httpx.Response, status: int, code: str | None = None) -> dict:
    """The standard error envelope with this status (and code)."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["success"] is False
    assert body["error"]["request_id"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


@contextlib.asynccontextmanager
async def stored_section(app: FastAPI, name: str, value: dict | None) -> AsyncIterator[None]:
    """Store a settings section (merged over what is there) or, with None, remove it; put
    back what was there after. Settings are shared by the whole session's app."""
    async with transaction(runtime_of(app).sessionmaker) as session:
        stored = name in await settings_service.stored_keys(session)
        before = (await settings_service.get_section(session, name)).model_dump()  # type: ignore[call-overload]
    await put_section(app, name, None if value is None else {**before, **value})
    try:
        yield
    finally:
        await put_section(app, name, before if stored else None)


async def put_section(app: FastAPI, name: str, value: dict | None) -> None:
    """Store a section as it is (None: remove it), validated as the API would."""
    async with transaction(runtime_of(app).sessionmaker) as session:
        if value is None:
            await settings_service.delete_section(session, name)
        else:
            await settings_service.put_section(
                session, name, value, config=runtime_of(app).config, remote=False
            )


@pytest.fixture
async def main_worker_paused(app: FastAPI) -> AsyncIterator[None]:
    """Keep the session's own pool out of the way so the test's runners get the job."""
    from foredeck.workers import service as workers_service

    worker_id = runtime_of(app)[EXECUTOR].worker_id
    async with transaction(runtime_of(app).sessionmaker) as session:
        await workers_service.set_worker_paused(session, worker_id, True)
    try:
        yield
    finally:
        async with transaction(runtime_of(app).sessionmaker) as session:
            await workers_service.set_worker_paused(session, worker_id, False)
