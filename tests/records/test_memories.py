"""Records CRUD, filters, sort, pagination and role rules."""

from __future__ import annotations

import httpx

from foredeck.kit.runtime import runtime_of
from foredeck.records.reads import RECORD_READER
from tests.conftest import assert_error, unique


async def test_crud_round_trip(client: httpx.AsyncClient, operator: dict, viewer: dict) -> None:
    coll = unique("c")
    resp = await client.post(
        "/api/v1/memories",
        json={
            "content": "The quick brown fox",
            "memory_type": "fact",
            "collection": coll,
            "metadata": {"source": "test"},
            "external_id": "x-1",
        },
        headers=operator,
    )
    assert resp.status_code == 201, resp.text
    mem = resp.json()["data"]
    assert mem["embedding_state"] == "pending"
    assert len(mem["content_hash"]) == 64
    got = (await client.get(f"/api/v1/memories/{mem['id']}", headers=viewer)).json()["data"]
    assert got["content"] == "The quick brown fox" and got["metadata"] == {"source": "test"}
    patched = await client.patch(
        f"/api/v1/memories/{mem['id']}", json={"content": "A slow green turtle"}, headers=operator
    )
    new = patched.json()["data"]
    assert new["content_hash"] != mem["content_hash"] and new["embedding_state"] == "pending"
    assert (
        await client.delete(f"/api/v1/memories/{mem['id']}", headers=operator)
    ).status_code == 204
    assert_error(await client.get(f"/api/v1/memories/{mem['id']}", headers=viewer), 404)


async def test_viewer_cannot_write(client: httpx.AsyncClient, viewer: dict) -> None:
    resp = await client.post("/api/v1/memories", json={"content": "x"}, headers=viewer)
    assert_error(resp, 403, "INSUFFICIENT_ROLE")


async def test_duplicate_external_id_is_409(client: httpx.AsyncClient, operator: dict) -> None:
    coll = unique("dup")
    body = {"content": "one", "collection": coll, "external_id": "same"}
    assert (await client.post("/api/v1/memories", json=body, headers=operator)).status_code == 201
    resp = await client.post("/api/v1/memories", json=body, headers=operator)
    assert_error(resp, 409, "DUPLICATE_EXTERNAL_ID")
    listing = await client.get(f"/api/v1/memories?collection={coll}", headers=operator)
    assert listing.json()["meta"]["total"] == 1


async def test_bad_input_changes_nothing(client: httpx.AsyncClient, operator: dict) -> None:
    coll = unique("bad")
    cases = [
        {"content": ""},
        {"content": 5, "collection": coll},
        {"content": "x", "memory_type": "unknown", "collection": coll},
        {"content": "x", "collection": "bad collection!"},
        {"content": "x", "collection": coll, "surprise": True},
        {"content": "x" * 100_001, "collection": coll},
    ]
    for body in cases:
        assert_error(await client.post("/api/v1/memories", json=body, headers=operator), 422)
    listing = await client.get(f"/api/v1/memories?collection={coll}", headers=operator)
    assert listing.json()["meta"]["total"] == 0


async def test_filters_sort_and_pagination(client: httpx.AsyncClient, operator: dict) -> None:
    coll = unique("f")
    for i in range(5):
        await client.post(
            "/api/v1/memories",
            json={
                "content": f"item {i} {'apple' if i % 2 else 'pear'}",
                "collection": coll,
                "memory_type": "fact" if i < 2 else "note",
            },
            headers=operator,
        )
    page = (
        await client.get(
            f"/api/v1/memories?collection={coll}&per_page=2&page=2&sort=id", headers=operator
        )
    ).json()
    assert page["meta"] == {
        "page": 2,
        "per_page": 2,
        "total": 5,
        "total_pages": 3,
        "total_exact": True,
    }
    assert [m["content"][:6] for m in page["data"]] == ["item 2", "item 3"]
    facts = await client.get(
        f"/api/v1/memories?collection={coll}&memory_type=fact", headers=operator
    )
    assert facts.json()["meta"]["total"] == 2
    apples = await client.get(f"/api/v1/memories?collection={coll}&q=APPLE", headers=operator)
    assert apples.json()["meta"]["total"] == 2
    newest = await client.get(f"/api/v1/memories?collection={coll}", headers=operator)
    assert newest.json()["data"][0]["content"].startswith("item 4")
    assert_error(await client.get("/api/v1/memories?per_page=1000", headers=operator), 422)
    assert_error(await client.get("/api/v1/memories?sort=nope", headers=operator), 422)


async def test_point_read_matches_the_contract(
    client: httpx.AsyncClient, operator: dict, app
) -> None:
    """The SQLite fast read path returns exactly what the validated listing returns."""
    coll = unique("fast")
    created = await client.post(
        "/api/v1/memories",
        json={
            "content": "fast path ✓",
            "collection": coll,
            "metadata": {"k": [1, "two"]},
            "external_id": "e1",
        },
        headers=operator,
    )
    mem_id = created.json()["data"]["id"]
    one = (await client.get(f"/api/v1/memories/{mem_id}", headers=operator)).json()
    listed = (await client.get(f"/api/v1/memories?collection={coll}", headers=operator)).json()
    assert one == {"success": True, "data": listed["data"][0], "meta": None}
    assert one["data"] == created.json()["data"]
    if runtime_of(app).config.is_sqlite:
        assert runtime_of(app).get(RECORD_READER) is not None
    # Registered on the app itself (matched once); still validated and authenticated.
    assert_error(await client.get("/api/v1/memories/abc", headers=operator), 422)
    assert_error(await client.get(f"/api/v1/memories/{mem_id}"), 401)
