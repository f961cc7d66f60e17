"""Registry CRUD through the API: every entity, filters, sort, pages, FKs, 404/409/422, roles."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import assert_error, unique

API = "/api/v1"


async def _create(client: httpx.AsyncClient, path: str, body: dict, headers: dict) -> dict:
    resp = await client.post(f"{API}/{path}", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


async def _server(client: httpx.AsyncClient, headers: dict) -> dict:
    return await _create(client, "servers", {"name": unique("srv"), "host": "10.0.0.1"}, headers)


async def _project(client: httpx.AsyncClient, headers: dict) -> dict:
    return await _create(client, "projects", {"name": unique("prj")}, headers)


async def _task(client: httpx.AsyncClient, headers: dict) -> dict:
    return await _create(client, "tasks", {"title": unique("task")}, headers)


# (path, body factory, a field to patch and its new value)
async def _bodies(client: httpx.AsyncClient, h: dict) -> list[tuple[str, dict, str, Any]]:
    srv, prj, task = await _server(client, h), await _project(client, h), await _task(client, h)
    return [
        (
            "projects",
            {"name": unique("p"), "modules": ["api", "web"], "description": "d"},
            "status",
            "active",
        ),
        ("tasks", {"title": unique("t"), "project_id": prj["id"]}, "status", "running"),
        (
            "servers",
            {"name": unique("s"), "host": "h.example", "provider": "hetzner", "region": "eu"},
            "status",
            "maintenance",
        ),
        (
            "allocations",
            {"server_id": srv["id"], "port": 8080, "service": "web", "project_id": prj["id"]},
            "service",
            "api",
        ),
        ("incidents", {"server_id": srv["id"], "title": "disk full"}, "status", "resolved"),
        (
            "service_deployments",
            {"server_id": srv["id"], "project_id": prj["id"], "service": "api", "version": "1.0"},
            "status",
            "running",
        ),
        ("agent_configs", {"name": unique("a"), "model": "gpt", "prompt": "hi"}, "enabled", False),
        (
            "cli_agent_configs",
            {"name": unique("c"), "command": "claude --print", "parameters": {"x": 1}},
            "model",
            "sonnet",
        ),
        (
            "task_executions",
            {
                "id": unique("req"),
                "task_id": task["id"],
                "worker_id": "w-1",
                "started_at": "2026-01-01T00:00:00Z",
                "status": "in_progress",
            },
            "status",
            "success",
        ),
    ]


async def test_crud_of_every_entity(
    client: httpx.AsyncClient, admin: dict, operator: dict, viewer: dict
) -> None:
    for path, body, field, value in await _bodies(client, operator):
        item = await _create(client, path, body, operator)
        for key, sent in body.items():
            if key.endswith("_at"):
                continue
            assert item[key] == sent, (path, key)
        url = f"{API}/{path}/{item['id']}"
        got = await client.get(url, headers=viewer)
        assert got.status_code == 200 and got.json()["data"] == item
        listed = await client.get(f"{API}/{path}?per_page=200", headers=viewer)
        assert listed.status_code == 200
        assert listed.json()["meta"]["total"] >= 1
        patched = await client.patch(url, json={field: value}, headers=operator)
        assert patched.status_code == 200, patched.text
        assert patched.json()["data"][field] == value
        untouched = [k for k in body if k != field and not k.endswith("_at")]
        for key in untouched:
            assert patched.json()["data"][key] == body[key], (path, key)
        assert_error(await client.delete(url, headers=operator), 403, "INSUFFICIENT_ROLE")
        resp = await client.delete(url, headers=admin)
        assert resp.status_code == 204, resp.text
        assert_error(await client.get(url, headers=viewer), 404, "NOT_FOUND")
        assert_error(await client.patch(url, json={field: value}, headers=operator), 404)
        assert_error(await client.delete(url, headers=admin), 404)


async def test_project_starts_created_with_modules(
    client: httpx.AsyncClient, operator: dict
) -> None:
    prj = await _create(
        client, "projects", {"name": unique("p"), "modules": ["backend", "bot"]}, operator
    )
    assert prj["status"] == "created" and prj["modules"] == ["backend", "bot"]


async def test_roles(client: httpx.AsyncClient, viewer: dict) -> None:
    assert_error(await client.get(f"{API}/servers"), 401)
    body = {"name": unique("s"), "host": "h"}
    assert_error(await client.post(f"{API}/servers", json=body, headers=viewer), 403)
    listing = await client.get(f"{API}/servers?name={body['name']}", headers=viewer)
    assert listing.json()["meta"]["total"] == 0


async def test_allocation_foreign_key_and_unique_port(
    client: httpx.AsyncClient, operator: dict
) -> None:
    srv = await _server(client, operator)
    err = assert_error(
        await client.post(
            f"{API}/allocations",
            json={"server_id": 987654321, "port": 80, "service": "x"},
            headers=operator,
        ),
        422,
        "FOREIGN_KEY_MISSING",
    )
    assert err["details"][0]["field"] == "server_id"
    body = {"server_id": srv["id"], "port": 443, "service": "https"}
    first = await _create(client, "allocations", body, operator)
    err = assert_error(
        await client.post(f"{API}/allocations", json=body, headers=operator), 409, "DUPLICATE"
    )
    assert {d["field"] for d in err["details"]} == {"server_id", "port"}
    # The same port on the same server by update is a conflict too.
    other = await _create(
        client, "allocations", {"server_id": srv["id"], "port": 444, "service": "b"}, operator
    )
    assert_error(
        await client.patch(
            f"{API}/allocations/{other['id']}", json={"port": 443}, headers=operator
        ),
        409,
    )
    listing = await client.get(f"{API}/allocations?server_id={srv['id']}", headers=operator)
    assert sorted(a["port"] for a in listing.json()["data"]) == [443, 444]
    assert first["protocol"] == "tcp"


async def test_delete_server_with_allocations_needs_cascade(
    client: httpx.AsyncClient, operator: dict, admin: dict
) -> None:
    srv = await _server(client, operator)
    alloc = await _create(
        client, "allocations", {"server_id": srv["id"], "port": 22, "service": "ssh"}, operator
    )
    inc = await _create(client, "incidents", {"server_id": srv["id"], "title": "t"}, operator)
    err = assert_error(
        await client.delete(f"{API}/servers/{srv['id']}", headers=admin), 409, "HAS_DEPENDENTS"
    )
    assert {d["field"] for d in err["details"]} == {"allocations", "incidents"}
    assert (await client.get(f"{API}/allocations/{alloc['id']}", headers=admin)).status_code == 200
    resp = await client.delete(f"{API}/servers/{srv['id']}?cascade=true", headers=admin)
    assert resp.status_code == 204
    for url in (f"servers/{srv['id']}", f"allocations/{alloc['id']}", f"incidents/{inc['id']}"):
        assert_error(await client.get(f"{API}/{url}", headers=admin), 404)


async def test_cascade_walks_grandchildren(
    client: httpx.AsyncClient, operator: dict, admin: dict
) -> None:
    prj = await _project(client, operator)
    task = await _create(client, "tasks", {"title": "t", "project_id": prj["id"]}, operator)
    ex = await _create(
        client,
        "task_executions",
        {
            "task_id": task["id"],
            "worker_id": "w",
            "started_at": "2026-01-01T00:00:00Z",
            "status": "success",
        },
        operator,
    )
    assert len(ex["id"]) == 32
    assert_error(await client.delete(f"{API}/projects/{prj['id']}", headers=admin), 409)
    resp = await client.delete(f"{API}/projects/{prj['id']}?cascade=true", headers=admin)
    assert resp.status_code == 204
    assert_error(await client.get(f"{API}/task_executions/{ex['id']}", headers=admin), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "host": "h", "surprise": 1},
        {"name": "x" * 129, "host": "h"},
        {"name": "", "host": "h"},
        {"name": "x", "host": "h", "status": "exploded"},
        {"name": "x", "host": ["h"]},
        {"host": "h"},
    ],
)
async def test_bad_input_changes_nothing(
    client: httpx.AsyncClient, operator: dict, body: dict
) -> None:
    region = unique("r")
    body = {**body, "region": region}
    err = assert_error(await client.post(f"{API}/servers", json=body, headers=operator), 422)
    assert err["details"] and err["details"][0]["field"]
    listing = await client.get(f"{API}/servers?region={region}", headers=operator)
    assert listing.json()["meta"]["total"] == 0


async def test_patch_refuses_null_for_required_and_keeps_row(
    client: httpx.AsyncClient, operator: dict
) -> None:
    srv = await _server(client, operator)
    err = assert_error(
        await client.patch(f"{API}/servers/{srv['id']}", json={"host": None}, headers=operator),
        422,
    )
    assert err["details"][0]["field"] == "host"
    got = await client.get(f"{API}/servers/{srv['id']}", headers=operator)
    assert got.json()["data"]["host"] == srv["host"]


async def test_unique_name_conflict(client: httpx.AsyncClient, operator: dict) -> None:
    name = unique("agent")
    await _create(client, "agent_configs", {"name": name, "model": "m"}, operator)
    assert_error(
        await client.post(
            f"{API}/agent_configs", json={"name": name, "model": "m"}, headers=operator
        ),
        409,
        "DUPLICATE",
    )


async def test_filters_search_sort_and_pages(client: httpx.AsyncClient, operator: dict) -> None:
    region = unique("reg")
    for i, status in enumerate(["active", "offline", "active", "active"]):
        await _create(
            client,
            "servers",
            {"name": f"{region}-{i}", "host": f"h{i}", "region": region, "status": status},
            operator,
        )
    base = f"{API}/servers?region={region}"
    resp = await client.get(f"{base}&status=active&sort=-name&per_page=2", headers=operator)
    body = resp.json()
    assert body["meta"] == {
        "page": 1,
        "per_page": 2,
        "total": 3,
        "total_pages": 2,
        "total_exact": True,
    }
    assert [s["name"] for s in body["data"]] == [f"{region}-3", f"{region}-2"]
    page2 = (
        await client.get(f"{base}&status=active&sort=-name&per_page=2&page=2", headers=operator)
    ).json()
    assert [s["name"] for s in page2["data"]] == [f"{region}-0"]
    found = (await client.get(f"{API}/servers?q={region}-1", headers=operator)).json()
    assert [s["name"] for s in found["data"]] == [f"{region}-1"]
    assert_error(await client.get(f"{base}&sort=nope", headers=operator), 422)
    assert_error(await client.get(f"{base}&status=exploded", headers=operator), 422)


async def test_unknown_list_parameter_is_refused(client: httpx.AsyncClient, operator: dict) -> None:
    err = assert_error(await client.get(f"{API}/servers?nmae=x", headers=operator), 422)
    assert err["details"][0]["field"] == "nmae"
    resp = await client.get(f"{API}/servers?page=1&per_page=5", headers=operator)
    assert resp.status_code == 200 and resp.json()["meta"]["per_page"] == 5
    assert_error(await client.get(f"{API}/servers?per_page=100000", headers=operator), 422)
