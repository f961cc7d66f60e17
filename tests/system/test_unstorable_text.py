"""NUL and unpaired surrogates are a 422 from any endpoint, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import assert_error, unique


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"content": "a\x00b"}, "UNSTORABLE_TEXT"),
        ({"content": "fine", "metadata": {"note": "zero \x00 here"}}, "UNSTORABLE_TEXT"),
        ({"content": "fine", "metadata": {"k\x00": 1}}, "UNSTORABLE_TEXT"),
        # Request validation already refuses a lone surrogate in a string field.
        ({"content": "fine", "external_id": "id\ud800"}, "VALIDATION_ERROR"),
    ],
    ids=["content", "metadata-value", "metadata-key", "lone-surrogate"],
)
async def test_unstorable_text_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, operator: dict[str, str], body: dict, code: str
) -> None:
    collection = unique("nul")
    # httpx would refuse a lone surrogate in json=; send the escaped JSON text as it arrives.
    import json

    raw = json.dumps({**body, "collection": collection})
    resp = await client.post(
        "/api/v1/memories",
        content=raw.encode(),
        headers={**operator, "Content-Type": "application/json"},
    )
    assert_error(resp, 422, code)
    listed = await client.get(
        "/api/v1/memories", params={"collection": collection}, headers=operator
    )
    assert listed.status_code == 200 and listed.json()["meta"]["total"] == 0


async def test_a_paired_surrogate_and_plain_backslashes_are_stored(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    body = {"content": "emoji 😀 and a path C:\\u0001x", "collection": unique("ok")}
    resp = await client.post("/api/v1/memories", json=body, headers=operator)
    assert resp.status_code == 201, resp.text
    assert resp.json()["data"]["content"] == body["content"]


@pytest.mark.parametrize("number", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
async def test_a_number_neither_database_stores_is_refused(
    client: httpx.AsyncClient, operator: dict[str, str], number: str
) -> None:
    """Python reads these as NaN or infinity; PostgreSQL's JSONB has no such numbers."""
    collection = unique("num")
    raw = f'{{"content": "fine", "collection": "{collection}", "metadata": {{"x": {number}}}}}'
    resp = await client.post(
        "/api/v1/memories",
        content=raw.encode(),
        headers={**operator, "Content-Type": "application/json"},
    )
    assert_error(resp, 422, "UNSTORABLE_NUMBER")
    listed = await client.get(
        "/api/v1/memories", params={"collection": collection}, headers=operator
    )
    assert listed.status_code == 200 and listed.json()["meta"]["total"] == 0
