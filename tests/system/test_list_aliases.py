"""limit / offset as aliases of the page parameters on every paged list endpoint, and seed 001's
job statuses pending / completed for queued / succeeded."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import assert_error, unique
from tests.jobs.helpers import wait_job

API = "/api/v1"


async def test_jobs_pending_limit_offset(client: httpx.AsyncClient, operator: dict) -> None:
    held = unique("held")
    assert (await client.post(f"{API}/queues/{held}/pause", headers=operator)).status_code == 200
    try:
        ids = []
        for _ in range(3):
            resp = await client.post(
                f"{API}/jobs",
                json={"kind": "test", "params": {"count": 1, "delay": 0}, "queue": held},
                headers=operator,
            )
            assert resp.status_code == 202, resp.text
            ids.append(resp.json()["data"]["job_id"])
        base = f"{API}/jobs?queue={held}"
        # Seed 001's own example, scoped to this test's queue.
        first = (await client.get(f"{base}&status=pending&limit=2", headers=operator)).json()
        assert first["meta"]["per_page"] == 2 and first["meta"]["total"] == 3
        assert [j["status"] for j in first["data"]] == ["queued", "queued"]
        canonical = (await client.get(f"{base}&status=queued&per_page=2", headers=operator)).json()
        assert [j["id"] for j in first["data"]] == [j["id"] for j in canonical["data"]]
        rest = (
            await client.get(f"{base}&status=pending&limit=2&offset=2", headers=operator)
        ).json()
        assert len(rest["data"]) == 1 and rest["meta"]["page"] == 2
        listed = [j["id"] for j in first["data"] + rest["data"]]
        assert sorted(listed) == sorted(ids)
        # An offset that is not a multiple of the page size is honoured as it is.
        middle = (await client.get(f"{base}&limit=1&offset=1", headers=operator)).json()
        assert [j["id"] for j in middle["data"]] == [listed[1]]
    finally:
        await client.post(f"{API}/queues/{held}/resume", headers=operator)
    done_queue = unique("done")
    resp = await client.post(
        f"{API}/jobs",
        json={"kind": "test", "params": {"count": 1, "delay": 0}, "queue": done_queue},
        headers=operator,
    )
    job_id = resp.json()["data"]["job_id"]
    await wait_job(client, operator, job_id, ("succeeded",))
    done = (
        await client.get(f"{API}/jobs?queue={done_queue}&status=completed", headers=operator)
    ).json()
    assert [j["id"] for j in done["data"]] == [job_id]
    mixed = (
        await client.get(
            f"{API}/jobs?queue={done_queue}&status=pending&status=completed", headers=operator
        )
    ).json()
    assert [j["id"] for j in mixed["data"]] == [job_id]
    assert_error(await client.get(f"{API}/jobs?status=finished", headers=operator), 422)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=5&per_page=6", "limit"),
        ("offset=5&page=2", "offset"),
        ("limit=100000", "limit"),
        ("offset=-1", "offset"),
        ("limit=0", "limit"),
    ],
)
async def test_bad_aliases_are_422_naming_the_field(
    client: httpx.AsyncClient, admin: dict, query: str, field: str
) -> None:
    for path in ("jobs", "memories", "users", "servers"):
        err = assert_error(await client.get(f"{API}/{path}?{query}", headers=admin), 422)
        assert field in str(err["details"]), (path, err)


async def test_limit_offset_on_memories_users_and_registry(
    client: httpx.AsyncClient, admin: dict, operator: dict
) -> None:
    coll = unique("c")
    for i in range(3):
        resp = await client.post(
            f"{API}/memories",
            json={"content": f"alias row {i}", "collection": coll},
            headers=operator,
        )
        assert resp.status_code in (200, 201), resp.text
    mem = f"{API}/memories?collection={coll}&sort=id"
    paged = (await client.get(f"{mem}&per_page=2&page=2", headers=operator)).json()
    aliased = (await client.get(f"{mem}&limit=2&offset=2", headers=operator)).json()
    assert [m["id"] for m in aliased["data"]] == [m["id"] for m in paged["data"]]
    assert len(aliased["data"]) == 1 and aliased["meta"]["per_page"] == 2

    region = unique("reg")
    for i in range(3):
        resp = await client.post(
            f"{API}/servers",
            json={"name": f"{region}-{i}", "host": f"h{i}", "region": region},
            headers=operator,
        )
        assert resp.status_code in (200, 201), resp.text
    servers = f"{API}/servers?region={region}&sort=name"
    body = (await client.get(f"{servers}&limit=1&offset=1", headers=operator)).json()
    assert [s["name"] for s in body["data"]] == [f"{region}-1"]
    assert body["meta"]["per_page"] == 1 and body["meta"]["total"] == 3

    everyone = (await client.get(f"{API}/users?per_page=200", headers=admin)).json()
    assert everyone["meta"]["total"] >= 2
    second = (await client.get(f"{API}/users?limit=1&offset=1", headers=admin)).json()
    assert [u["id"] for u in second["data"]] == [everyone["data"][1]["id"]]
