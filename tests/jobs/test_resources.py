"""Sub-resources only some kinds have (a generated dataset's chunks, its merge and import):
routed by the jobs router, answered by the provider the kind registered, 404 for other kinds."""

from __future__ import annotations

import httpx
import pytest

from foredeck.jobs import resources
from foredeck.jobs.resources import PROVIDERS, job_resource
from tests.conftest import assert_error
from tests.jobs.helpers import wait_job


async def test_a_kind_without_the_sub_resource_answers_404(
    client: httpx.AsyncClient, operator: dict
) -> None:
    resp = await client.post("/api/v1/jobs/test", json={"count": 1, "delay": 0}, headers=operator)
    job_id = resp.json()["data"]["job_id"]
    await wait_job(client, operator, job_id, ("succeeded",))
    mapping = {"collection": "c", "mapping": {"content": "text"}}
    answers = [
        await client.get(f"/api/v1/jobs/{job_id}/chunks", headers=operator),
        await client.get(f"/api/v1/jobs/{job_id}/chunks/0", headers=operator),
        await client.post(f"/api/v1/jobs/{job_id}/chunks/0", headers=operator),
        await client.post(f"/api/v1/jobs/{job_id}/download", json={}, headers=operator),
        await client.post(f"/api/v1/jobs/{job_id}/import", json=mapping, headers=operator),
    ]
    for answer in answers:
        err = assert_error(answer, 404, "NOT_FOUND")
        assert err["message"] == f"Job {job_id} is a test job, not a dataset generation"
    for path in ("chunks", "chunks/0"):
        assert_error(await client.get(f"/api/v1/jobs/nope/{path}", headers=operator), 404)


async def test_the_roles_of_the_routes_hold_before_the_kind_is_asked(
    client: httpx.AsyncClient, viewer: dict
) -> None:
    assert_error(await client.post("/api/v1/jobs/nope/chunks/0", headers=viewer), 403)
    assert_error(await client.post("/api/v1/jobs/nope/download", headers=viewer), 403)
    assert_error(await client.get("/api/v1/jobs/nope/chunks"), 401)


def test_a_provider_must_fit_the_route() -> None:
    async def provide(*_args: object, **_kwargs: object) -> None:
        return None

    with pytest.raises(ValueError, match="no sub-resource"):
        job_resource("nonsense", "test", label="a test")(provide)
    known = PROVIDERS[resources.LIST_CHUNKS]["generate"]
    # Another kind's chunks must be described by the same models: the route has one schema.
    with pytest.raises(ValueError, match="same models"):
        job_resource(resources.LIST_CHUNKS, "other", label="x", response=dict)(provide)
    assert "other" not in PROVIDERS[resources.LIST_CHUNKS]
    assert PROVIDERS[resources.LIST_CHUNKS]["generate"] is known
