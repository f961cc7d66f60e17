"""An id or a reference past what the databases store is a 422, never a driver error (500)."""

from __future__ import annotations

import httpx

from foredeck.kit.schemas import MAX_DB_INT
from tests.conftest import assert_error

HUGE = MAX_DB_INT + 1


async def test_ids_past_the_database_range_are_refused(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for method, path, body in (
        ("GET", f"/api/v1/memories/{HUGE}", None),
        ("PATCH", f"/api/v1/memories/{HUGE}", {"content": "x"}),
        ("DELETE", f"/api/v1/memories/{HUGE}", None),
        ("PATCH", f"/api/v1/allocations/{HUGE}", {}),
        ("GET", f"/api/v1/users/{HUGE}", None),
        ("DELETE", f"/api/v1/api_keys/{HUGE}", None),
        ("GET", f"/api/v1/schedules/{HUGE}", None),
        ("POST", "/api/v1/projects", {"name": "p", "owner_id": HUGE}),
    ):
        resp = await client.request(method, path, json=body, headers=admin)
        assert_error(resp, 422, "VALIDATION_ERROR")
    # The largest stored value is still a valid id (not found here, but asked for).
    assert_error(await client.get(f"/api/v1/memories/{MAX_DB_INT}", headers=admin), 404)
