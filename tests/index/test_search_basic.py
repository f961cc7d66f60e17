"""Records created through the API become searchable with nobody doing anything more."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.conftest import assert_error, unique
from tests.index.helpers import create, wait_embedded

TEXTS = [
    "The cat sat on the warm windowsill in the sun",
    "Quarterly revenue grew by twelve percent in Europe",
    "Python asyncio event loops schedule coroutines",
    "A recipe for sourdough bread with a crisp crust",
]


async def test_created_records_become_searchable(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    coll = unique("s")
    ids = await create(client, operator, coll, TEXTS)
    await wait_embedded(app, client, viewer, coll, len(TEXTS))
    for mode in ("semantic", "keyword", "hybrid"):
        resp = await client.post(
            "/api/v1/search",
            json={"query": "sourdough bread recipe", "mode": mode, "collection": coll, "k": 3},
            headers=viewer,
        )
        assert resp.status_code == 200, resp.text
        hits = resp.json()["data"]["hits"]
        assert hits and hits[0]["memory"]["id"] == ids[3], (mode, hits)
        assert all(h["memory"]["collection"] == coll for h in hits)
    got = await client.get(
        f"/api/v1/search?q=revenue&mode=keyword&collection={coll}", headers=viewer
    )
    hit = got.json()["data"]["hits"][0]
    assert hit["memory"]["id"] == ids[1]
    assert "<mark>revenue</mark>" in hit["highlights"][0].lower()


async def test_bad_queries_are_422(client: httpx.AsyncClient, viewer: dict) -> None:
    assert_error(await client.post("/api/v1/search", json={"query": ""}, headers=viewer), 422)
    assert_error(await client.post("/api/v1/search", json={"query": "   "}, headers=viewer), 422)
    body = {"query": "x" * 1001}
    assert_error(await client.post("/api/v1/search", json=body, headers=viewer), 422)
    assert_error(await client.get("/api/v1/search?q=", headers=viewer), 422)
    body = {"query": "a", "k": 0}
    assert_error(await client.post("/api/v1/search", json=body, headers=viewer), 422)
    assert_error(await client.get("/api/v1/search?q=a&mode=fuzzy", headers=viewer), 422)


def test_highlights_mark_whole_words_and_escape() -> None:
    from foredeck.index.search import highlight_terms, highlights, terms_of

    terms = highlight_terms(terms_of("Lighthouse <b>"))
    content = "Two LIGHTHOUSES & a lighthouse-keeper <b> " + "x " * 60 + "lighthouse end"
    out = highlights(content, terms)
    assert out[0].startswith("Two <mark>LIGHTHOUSES</mark> &amp; a <mark>lighthouse</mark>-")
    assert "&lt;<mark>b</mark>&gt;" not in out[0]  # one-letter terms are never marked
    assert out[0].endswith("…") and out[1].startswith("…")
    assert out[1].endswith("<mark>lighthouse</mark> end")
    # A term the fragment's end would cut is shown whole, not as its stub (a form too).
    compass = highlight_terms(["compass"])  # forms: compass, compasss, compa
    cut = highlights("compass " + "y" * 73 + " compass and more", compass)
    assert cut == ["<mark>compass</mark> " + "y" * 73 + " <mark>compass</mark>…"]
    assert highlights("nothing here", compass) == []
    assert highlights("anything", frozenset()) == []
