"""Listing jobs: the text filter through its index, and totals that stop counting at a cap."""

from __future__ import annotations

import uuid
from contextlib import aclosing
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, update

from foredeck.console.pages import jobs as console_jobs
from foredeck.db import transaction
from foredeck.jobs import listing
from foredeck.kit.runtime import runtime_of
from foredeck.models.base import utcnow
from foredeck.models.jobs import Job
from tests.console.helpers import console_client


async def _jobs(app: FastAPI, n: int, **values: object) -> list[str]:
    """Rows written directly (no handler runs them); newest last."""
    now = utcnow()
    ids = [str(uuid.uuid4()) for _ in range(n)]
    async with transaction(runtime_of(app).sessionmaker) as session:
        for i, job_id in enumerate(ids):
            fields: dict[str, object] = {
                "kind": "noop",
                "queue": f"q{uuid.uuid4().hex[:8]}",
                "status": "failed",
                **values,
            }
            session.add(
                Job(
                    id=job_id,
                    priority=0,
                    params={},
                    counters={},
                    attempts=1,
                    max_attempts=1,
                    lock_keys=[],
                    fence=0,
                    created_at=now + timedelta(milliseconds=i),
                    run_after=now,
                    **fields,
                )
            )
    return ids


async def _ids(client: httpx.AsyncClient, headers: dict, **params: object) -> list[str]:
    resp = await client.get("/api/v1/jobs", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return [j["id"] for j in resp.json()["data"]]


async def test_q_finds_a_word_in_error_message_kind_or_id(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    word = uuid.uuid4().hex[:10]
    [by_error] = await _jobs(app, 1, error=f"ValueError: Zq{word}Xy is not a number")
    [by_message] = await _jobs(app, 1, progress_message=f"reading {word} rows")
    [by_kind] = await _jobs(app, 1, kind=f"k{word}k")
    # A substring in the middle of a word, in any case.
    found = await _ids(client, operator, q=word.upper())
    assert set(found) == {by_error, by_message, by_kind}
    assert found == [by_kind, by_message, by_error]  # newest first
    assert await _ids(client, operator, q=f"zq{word}xy IS NOT") == [by_error]
    assert await _ids(client, operator, q=by_message[:8]) == [by_message]
    assert await _ids(client, operator, q=by_message[:13].upper()) == [by_message]
    # The text filter is ANDed with the others, whichever of its branches matches.
    assert await _ids(client, operator, q=word, status="succeeded") == []
    assert await _ids(client, operator, q=by_message[:8], status="succeeded") == []
    # A term too short for the trigram index still filters.
    short = await _ids(client, operator, q="Zq", kind="noop", per_page=100)
    assert by_error in short and by_message not in short
    assert await _ids(client, operator, q='"%_\\') == []


async def test_q_follows_updates_and_deletes(
    app: FastAPI, client: httpx.AsyncClient, operator: dict
) -> None:
    old, new = uuid.uuid4().hex[:12], uuid.uuid4().hex[:12]
    [job_id] = await _jobs(app, 1, error=f"first {old}")
    assert await _ids(client, operator, q=old) == [job_id]
    async with transaction(runtime_of(app).sessionmaker) as session:
        await session.execute(update(Job).where(Job.id == job_id).values(error=f"then {new}"))
    assert await _ids(client, operator, q=old) == []
    assert await _ids(client, operator, q=new) == [job_id]
    # Writes that leave the searched columns as they were keep the job findable.
    async with transaction(runtime_of(app).sessionmaker) as session:
        await session.execute(
            update(Job).where(Job.id == job_id).values(status="queued", error=f"then {new}")
        )
    assert await _ids(client, operator, q=new) == [job_id]
    async with transaction(runtime_of(app).sessionmaker) as session:
        await session.execute(delete(Job).where(Job.id == job_id))
    assert await _ids(client, operator, q=new) == []


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(listing, "COUNT_CAP", 4)
    monkeypatch.setattr(listing, "PROBE_WINDOW", 40)
    return 4


async def test_total_is_a_lower_bound_past_the_cap(
    app: FastAPI,
    client: httpx.AsyncClient,
    operator: dict,
    small_cap: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    word = uuid.uuid4().hex[:10]
    queue = f"q{uuid.uuid4().hex[:8]}"
    ids = await _jobs(app, 7, error=f"boom {word}", kind=f"k{word}", queue=queue)
    resp = await client.get("/api/v1/jobs", params={"q": word, "per_page": 3}, headers=operator)
    meta = resp.json()["meta"]
    assert meta == {"page": 1, "per_page": 3, "total": 4, "total_pages": 2, "total_exact": False}
    page3 = await client.get(
        "/api/v1/jobs", params={"q": word, "per_page": 3, "page": 3}, headers=operator
    )
    assert [j["id"] for j in page3.json()["data"]] == ids[:1]
    # The last page tells the exact total.
    assert (page3.json()["meta"]["total"], page3.json()["meta"]["total_exact"]) == (7, True)
    # A filter that one index covers is counted exactly, cap or not.
    exact = await client.get("/api/v1/jobs", params={"kind": f"k{word}"}, headers=operator)
    assert exact.json()["meta"]["total"] == 7 and exact.json()["meta"]["total_exact"] is True
    both = await client.get(
        "/api/v1/jobs", params={"kind": f"k{word}", "queue": queue, "per_page": 3}, headers=operator
    )
    assert (both.json()["meta"]["total"], both.json()["meta"]["total_exact"]) == (4, False)
    few = await client.get("/api/v1/jobs", params={"q": word, "status": "queued"}, headers=operator)
    assert few.json()["meta"]["total"] == 0 and few.json()["meta"]["total_exact"] is True
    monkeypatch.setattr(console_jobs, "PER_PAGE", 2)
    console, _ = await console_client(app, "operator")
    async with aclosing(console):
        page = await console.get(f"/ui/jobs?q={word}")
        assert 'data-testid="jobs-total">4+<' in page.text
        assert "All 4+ matching" in page.text
        assert "Page 1 of 2+" in page.text and 'rel="next"' in page.text
        last = await console.get(f"/ui/jobs?q={word}&page=4")
        assert 'data-testid="jobs-total">7<' in last.text and 'rel="next"' not in last.text
        assert (await console.get(f"/ui/jobs/count?q={word}")).text == "7"
