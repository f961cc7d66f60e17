"""foredeck.client: every operation has a method, the generated files are current, and the
registry works through it (async in-process, sync over real HTTP)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from foredeck import contracts
from foredeck.client import OPERATIONS, AsyncClient, Client, ForedeckError
from foredeck.mcp.operations import collect
from foredeck.registry.schemas import ProjectCreate, ServerUpdate
from tests.client.live import openapi_operations
from tests.conftest import unique

ROOT = Path(__file__).resolve().parents[2]


async def _key(client: httpx.AsyncClient, headers: dict) -> str:
    resp = await client.post("/api/v1/api_keys", json={"name": unique("k")}, headers=headers)
    return str(resp.json()["data"]["key"])


def test_every_openapi_operation_has_a_client_method(app: FastAPI) -> None:
    wanted = openapi_operations(app)
    have = set(OPERATIONS.values())
    assert wanted - have == set(), "run scripts/gen_client.py"
    assert have - wanted == set(), "run scripts/gen_client.py"
    for name in OPERATIONS:
        assert callable(getattr(Client, name)) and callable(getattr(AsyncClient, name))


def test_generated_files_are_current() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/gen_client.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_contracts_cover_the_route_models(app: FastAPI) -> None:
    exported = {getattr(contracts, n) for n in contracts.__all__}
    for op in collect(app):
        body = op.body_type
        if isinstance(body, type):
            assert body in exported, (op.name, body)
    assert contracts.ProjectCreate is ProjectCreate


async def test_async_client_registry_round_trip(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, admin: dict
) -> None:
    transport = httpx.ASGITransport(app=app)
    op_key, admin_key = await _key(client, operator), await _key(client, admin)
    async with AsyncClient("http://test", op_key, transport=transport) as fd:
        name = unique("prj")
        project = await fd.create_project(ProjectCreate(name=name, modules=["api"]))
        assert isinstance(project, contracts.ProjectOut)
        assert project.status == "created" and project.modules == ["api"]
        page = await fd.list_projects(name=name)
        assert page.meta.total == 1 and page.data[0].id == project.id
        srv = await fd.create_server({"name": unique("s"), "host": "10.1.1.1"})
        srv = await fd.update_server(srv.id, ServerUpdate(status="offline"))
        assert srv.status == "offline" and srv.host == "10.1.1.1"
        alloc = await fd.create_allocation({"server_id": srv.id, "port": 5432, "service": "pg"})
        with pytest.raises(ForedeckError) as err:
            await fd.create_allocation({"server_id": srv.id, "port": 5432, "service": "pg"})
        assert (err.value.status, err.value.code) == (409, "DUPLICATE")
        with pytest.raises(ForedeckError) as err:
            await fd.delete_server(srv.id)
        assert err.value.status == 403
    async with AsyncClient("http://test", admin_key, transport=transport) as fd:
        with pytest.raises(ForedeckError) as err:
            await fd.delete_server(srv.id)
        assert err.value.code == "HAS_DEPENDENTS"
        assert await fd.delete_server(srv.id, cascade=True) is None
        with pytest.raises(ForedeckError) as err:
            await fd.get_allocation(alloc.id)
        assert err.value.status == 404
        me = await fd.get_me()
        assert me.role == "admin"


async def test_sync_client_over_http(
    live_url: str, client: httpx.AsyncClient, operator: dict
) -> None:
    key = await _key(client, operator)
    name = unique("agent")

    def work() -> tuple[str, int, str]:
        with Client(live_url, key) as fd:
            made = fd.create_agent_config({"name": name, "model": "m", "parameters": {"t": 0}})
            fd.update_agent_config(made.id, {"enabled": False})
            got = fd.get_agent_config(made.id)
            listed = fd.list_agent_configs(name=name, enabled=False)
            try:
                fd.create_agent_config({"name": name, "model": "m", "unknown": 1})
            except ForedeckError as exc:
                code = f"{exc.status} {exc.details[0]['field']}"
            return got.model, listed.meta.total, code

    model, total, code = await asyncio.to_thread(work)
    assert (model, total, code) == ("m", 1, "422 unknown")


def test_client_needs_no_server_side() -> None:
    """Another service imports the client and contracts without SQLAlchemy or the services."""
    code = (
        "import sys, foredeck.client, foredeck.contracts\n"
        "names = ('sqlalchemy', 'foredeck.db', 'foredeck.models')\n"
        "loaded = [m for m in names if m in sys.modules]\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
