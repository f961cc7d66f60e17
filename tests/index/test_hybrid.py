"""Hybrid fusion, the keyword parser's escaping and the per-hit explanation (issue 19)."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from foredeck.index.fusion import fuse
from foredeck.index.keyword import (
    TIER_ALL,
    TIER_ANY,
    TIER_IDENTIFIERS,
    KeywordHit,
    expression,
    parse,
    tiers_of,
)
from foredeck.kit.runtime import runtime_of
from foredeck.records.reads import RECORD_READER
from tests.conftest import assert_error, unique
from tests.index.helpers import create, wait_embedded


def plain_rrf(semantic: list[int], keyword: list[int]) -> list[int]:
    """Textbook RRF(k=60), the fusion the issue measured as worse than its parts."""
    scores: dict[int, float] = {}
    for ranked in (semantic, keyword):
        for rank, memory_id in enumerate(ranked):
            scores[memory_id] = scores.get(memory_id, 0.0) + 1 / (61 + rank)
    return sorted(scores, key=lambda i: (-scores[i], i))


def test_paraphrase_keeps_the_semantic_best_first() -> None:
    # The paraphrase's record (1) shares no word with the query; 2 and 3 share common words.
    semantic = [1, 2, 3, 4]
    keyword = [3, 2, 5]
    assert plain_rrf(semantic, keyword)[0] != 1  # plain RRF lets the word matches win
    fused = fuse(
        [(i, 0.0) for i in semantic],
        [KeywordHit(i, 0.0, TIER_ANY) for i in keyword],
        has_identifiers=False,
    )
    assert [f.memory_id for f in fused][:3] == [1, 2, 3]
    first = fused[0]
    assert (first.semantic_rank, first.keyword_rank, first.keyword_tier) == (1, None, None)
    assert (fused[1].semantic_rank, fused[1].keyword_rank) == (2, 2)


def test_exact_identifier_beats_its_near_twins() -> None:
    # INC-78103 (7) is fifth semantically: its twins INC-78113... look the same to the model.
    semantic = [1, 2, 3, 4, 7]
    keyword = [7, 1, 2, 3, 4]  # an any-word list: every ticket holds "inc"
    assert plain_rrf(semantic, keyword)[0] != 7
    fused = fuse(
        [(i, 0.0) for i in semantic],
        [KeywordHit(7, 0.0, TIER_ALL), *(KeywordHit(i, 0.0, TIER_ANY) for i in keyword[1:])],
        has_identifiers=True,
    )
    assert fused[0].memory_id == 7
    assert (fused[0].semantic_rank, fused[0].keyword_rank) == (5, 1)
    # Matching only some words of a plain query is weak evidence: no jump to the top.
    words = fuse(
        [(i, 0.0) for i in semantic],
        [KeywordHit(7, 0.0, TIER_ANY)],
        has_identifiers=False,
    )
    assert [f.memory_id for f in words] == semantic


def test_parser_keeps_operators_out_of_the_match_expression() -> None:
    parsed = parse('"Printer" AND (jam OR toner) NEAR -fault* col:umn ^x INC-78103, J45.30')
    assert parsed.identifiers == (("inc", "78103"), ("j45", "30"))
    # "and", "or" are stop words (PostgreSQL drops them too); "near" is an ordinary word here.
    assert parsed.terms == ("printer", "jam", "toner", "near", "fault", "col", "umn", "x")
    fts = expression(parsed.units(), "AND", "sqlite")
    assert fts.startswith('"inc 78103" AND "j45 30" AND "printer"')
    assert "(" not in fts and "*" not in fts and ":" not in fts
    pg = expression(parsed.units(), "OR", "postgresql")
    assert pg.startswith("('inc' <-> '78103') | ('j45' <-> '30') | 'printer'")
    # Tiers: every word, then every identifier, then any word.
    assert [t for t, _ in tiers_of(parsed, "sqlite")] == [TIER_ALL, TIER_IDENTIFIERS, TIER_ANY]
    assert [t for t, _ in tiers_of(parse("LH1234"), "sqlite")] == [TIER_ALL]
    assert parse('"*:-()').empty


HOSTILE = [
    '"alpha',
    'say "beta',
    "alpha AND",
    "OR beta",
    "NEAR(alpha beta, 2)",
    "alpha NOT beta",
    "alpha*",
    "*",
    "-alpha",
    "alpha - beta",
    "(alpha OR (beta",
    "content:alpha",
    "col:umn : :",
    "alpha^2 {beta} [gamma]",
    "alpha & beta | !gamma <-> delta",
    "'alpha' ''",
    "alpha\\ beta\\\\",
    "content:col-umn.gamma/delta",
    "𒀭𒊩 cuneiform",
    "東京 タワー",
]


@pytest.mark.parametrize("mode", ["semantic", "keyword", "hybrid"])
async def test_fts_operators_are_plain_text(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict, mode: str
) -> None:
    coll = unique("esc")
    ids = await create(
        client,
        operator,
        coll,
        [
            "alpha beta NEAR gamma (delta): content col umn epsilon-zeta",
            "東京 タワー and 𒀭𒊩 cuneiform signs",
        ],
    )
    await wait_embedded(app, client, viewer, coll, len(ids))
    for query in HOSTILE:
        for resp in (
            await client.post(
                "/api/v1/search",
                json={"query": query, "mode": mode, "collection": coll},
                headers=viewer,
            ),
            await client.get(
                "/api/v1/search",
                params={"q": query, "mode": mode, "collection": coll},
                headers=viewer,
            ),
        ):
            if query == "*":
                assert_error(resp, 422, "VALIDATION_ERROR")
                continue
            assert resp.status_code == 200, (query, resp.text)
            hits = resp.json()["data"]["hits"]
            if mode == "keyword":
                # The words of the hostile text still find the record holding them.
                assert hits, query
    resp = await client.post(
        "/api/v1/search",
        json={"query": '"alpha" AND (gamma)', "mode": "keyword", "collection": coll},
        headers=viewer,
    )
    hit = resp.json()["data"]["hits"][0]
    assert hit["memory"]["id"] == ids[0]
    assert hit["keyword_match"] == "all" and hit["keyword_rank"] == 1


async def test_bad_queries_are_4xx(client: httpx.AsyncClient, viewer: dict) -> None:
    for query in ["", "   ", '"', "*", "-", ":", '"*:-()"', "🙂🙂", "a\x00b", "x" * 10_000]:
        for mode in ("semantic", "keyword", "hybrid"):
            body = {"query": query, "mode": mode}
            assert_error(await client.post("/api/v1/search", json=body, headers=viewer), 422)
            resp = await client.get(
                "/api/v1/search", params={"q": query, "mode": mode}, headers=viewer
            )
            assert_error(resp, 422)
    error = assert_error(
        await client.post("/api/v1/search", json={"query": "a\x00b"}, headers=viewer), 422
    )
    assert "NUL" in str(error)


async def test_identifiers_rank_first_with_the_reason(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    coll = unique("ids")
    numbers = ["78103", "78113", "78183", "78193", "78703", "78163"]
    texts = [f"Ticket INC-{n}: VPN connection drops for the Leeds office." for n in numbers]
    texts += [
        "Clinic note: diagnosis J45.30, asthma, mild, inhaler reviewed.",
        "Clinic note: diagnosis J45.31, asthma, moderate, inhaler reviewed.",
        "Flight LH1234 from Frankfurt is delayed by 30 minutes.",
    ]
    ids = await create(client, operator, coll, texts, metadata={"site": "leeds"})
    await wait_embedded(app, client, viewer, coll, len(ids))

    async def search(query: str, mode: str, **extra: object) -> list[dict]:
        body = {"query": query, "mode": mode, "collection": coll, **extra}
        resp = await client.post("/api/v1/search", json=body, headers=viewer)
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]["hits"]

    for i, number in enumerate(numbers):
        for mode in ("keyword", "hybrid"):
            hits = await search(f"INC-{number}", mode)
            assert hits[0]["memory"]["id"] == ids[i], (number, mode)
            assert hits[0]["keyword_rank"] == 1 and hits[0]["keyword_match"] == "all"
        hybrid = await search(f"VPN problem INC-{number}", "hybrid")
        assert hybrid[0]["memory"]["id"] == ids[i]
        assert hybrid[0]["keyword_match"] == "identifiers"
        assert hybrid[0]["semantic_rank"] is not None  # found by both lists, says so
    # A dotted code and its twin: the same answer on SQLite and PostgreSQL.
    for mode in ("keyword", "hybrid"):
        hits = await search("J45.30", mode)
        assert hits[0]["memory"]["id"] == ids[6]
    # "30" alone is a number any record may hold; the code's phrase is not.
    hits = await search("J45.30", "keyword")
    assert [h["memory"]["id"] for h in hits] == [ids[6]]
    # Filters keep working in hybrid mode.
    assert await search("INC-78103", "hybrid", metadata={"site": "oslo"}) == []
    filtered = await search("INC-78103", "hybrid", metadata={"site": "leeds"}, k=3)
    assert filtered[0]["memory"]["id"] == ids[0] and len(filtered) == 3
    # Semantic mode reports semantic ranks only.
    semantic = await search("VPN connection drops", "semantic", k=3)
    assert [h["semantic_rank"] for h in semantic] == [1, 2, 3]
    assert all(h["keyword_rank"] is None for h in semantic)


async def test_unfiltered_keyword_side_on_both_paths(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    """Without filters SQLite answers identifier matches on the loop's read-only connection
    and the rest from the full-text table alone; the lists are the session path's."""
    from foredeck.index.keyword import keyword_hits

    coll = unique("loop")
    number = abs(hash(coll)) % 10**9 + 10**9  # ten digits no other test's record holds
    texts = [
        f"Order REF-{number}: the parcel was left at the depot",
        f"Order REF-{number} was signed for at the door",
        f"Order REF-{number + 1}: the parcel was left at the depot",
    ]
    ids = await create(client, operator, coll, texts)
    await wait_embedded(app, client, viewer, coll, len(ids))

    async def search(query: str, mode: str) -> list[dict]:
        resp = await client.post(
            "/api/v1/search", json={"query": query, "mode": mode}, headers=viewer
        )
        assert resp.status_code == 200, resp.text
        return resp.json()["data"]["hits"]

    keyword = await search(f"REF-{number} parcel depot", "keyword")
    assert [(h["memory"]["id"], h["keyword_match"]) for h in keyword[:2]] == [
        (ids[0], "all"),
        (ids[1], "identifiers"),
    ]
    assert ids[2] not in [h["memory"]["id"] for h in keyword if h["keyword_match"] != "any"]
    hybrid = await search(f"REF-{number} parcel depot", "hybrid")
    assert [h["memory"]["id"] for h in hybrid[:2]] == ids[:2]
    assert [h["keyword_match"] for h in hybrid[:2]] == ["all", "identifiers"]
    # An identifier no record holds: no keyword hit at all in hybrid, however common the
    # other words are (the every-word tier is a subset of the identifier tier).
    absent = await search(f"REF-{number + 7} parcel depot", "hybrid")
    assert absent and all(h["keyword_rank"] is None for h in absent)

    reader = runtime_of(app).get(RECORD_READER)
    async with runtime_of(app).sessionmaker() as session:
        for query in (f"REF-{number} parcel depot", f"REF-{number}", "parcel depot"):
            on_loop = await keyword_hits(session, query, 50, {}, reader=reader)
            through_session = await keyword_hits(session, query, 50, {})
            assert on_loop == through_session, query
            assert on_loop


async def test_a_long_read_leaves_the_loop(app: FastAPI) -> None:
    reader = runtime_of(app).get(RECORD_READER)
    if reader is None:
        pytest.skip("the on-loop reader is SQLite's")
    count = (
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < :n) "
        "SELECT count(*) FROM c"
    )
    assert reader.bounded_rows(count, {"n": 100_000}, 1) is None
    assert reader.bounded_rows(count, {"n": 100_000}, 10_000) == [(100_000,)]
    # The abandoned read leaves the connection as it was: point reads still answer.
    assert reader.get(-1) is None
    assert reader.bounded_rows(count, {"n": 10}, 1) == [(10,)]


def test_the_pool_s_scratch_table_matches_as_the_index_does() -> None:
    from foredeck.index.pool_keyword import rank_texts

    match = expression(parse("Lighthouses storms").units(), "AND", "sqlite")
    texts = [(5, "The lighthouse keeper logged the storm."), (6, "A storm hit the harbour.")]
    assert [i for i, _ in rank_texts(texts, match)] == [5]  # porter stems, as memories_fts
    # Nothing of one query's pool is left for the next.
    assert [i for i, _ in rank_texts([(7, "lighthouse storm")], match)] == [7]
    assert rank_texts([(8, "no such words")], match) == []


async def test_words_only_hybrid_ranks_the_pool_by_every_word(
    app: FastAPI, client: httpx.AsyncClient, operator: dict, viewer: dict
) -> None:
    """A query without identifiers asks the every-word tier among the semantic pool only;
    the hit says so on SQLite and PostgreSQL alike (stemmed: "lighthouses" holds)."""
    coll = unique("words")
    texts = [
        "The lighthouse keeper logged the storm at dawn.",
        "A storm hit the harbour and closed the ferry.",
        "Fresh bread and pastries every morning at the bakery.",
    ]
    ids = await create(client, operator, coll, texts)
    await wait_embedded(app, client, viewer, coll, len(ids))
    body = {"query": "lighthouses storm", "mode": "hybrid", "collection": coll}
    resp = await client.post("/api/v1/search", json=body, headers=viewer)
    assert resp.status_code == 200, resp.text
    hits = {h["memory"]["id"]: h for h in resp.json()["data"]["hits"]}
    assert set(hits) == set(ids)  # the pool is the whole collection here
    first = resp.json()["data"]["hits"][0]
    assert first["memory"]["id"] == ids[0]
    assert (first["keyword_rank"], first["keyword_match"]) == (1, "all")
    assert first["semantic_rank"] is not None
    assert hits[ids[1]]["keyword_rank"] is None  # "storm" alone is not every word
    assert hits[ids[2]]["keyword_rank"] is None
