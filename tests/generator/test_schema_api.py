"""POST /schema/validate and /schema/extract, the rule extractor and the LLM extractor
against a local fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from tests.conftest import assert_error

SENTENCE = "1000 customers with name, email, age between 18 and 90, country from US/DE/FR"


class FakeLLM:
    """Answers /v1/chat/completions with scripted replies and records what it was asked."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append(json.loads(self.rfile.read(length)))
                fake.auth.append(self.headers.get("Authorization"))
                status, body = fake.replies.pop(0) if fake.replies else (500, "no reply")
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def reply(self, content: str, status: int = 200) -> None:
        self.replies.append(
            (status, {"choices": [{"message": {"role": "assistant", "content": content}}]})
        )


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
async def llm_configured(
    app: FastAPI, client: httpx.AsyncClient, admin: dict, fake_llm: FakeLLM
) -> AsyncIterator[FakeLLM]:
    key_dir = runtime_of(app).config.path("credentials")
    os.chmod(key_dir, 0o700)
    key = key_dir / "llm-test.key"
    key.write_text("sk-test-123\n")
    os.chmod(key, 0o600)
    resp = await client.put(
        "/api/v1/settings/generator",
        json={
            "provider": "openai",
            "base_url": fake_llm.url,
            "model": "fake-model",
            "api_key_path": "llm-test.key",
            "timeout_s": 10,
        },
        headers=admin,
    )
    assert resp.status_code == 200, resp.text
    yield fake_llm
    assert (await client.delete("/api/v1/settings/generator", headers=admin)).status_code == 200


async def test_validate_reports_issues_without_a_job(
    client: httpx.AsyncClient, viewer: dict
) -> None:
    ok_schema = {
        "rows": 50,
        "fields": [{"name": "n", "type": "integer", "min": 1, "max": 50, "unique": True}],
    }
    body = (await client.post("/api/v1/schema/validate", json=ok_schema, headers=viewer)).json()
    assert body["data"]["valid"] is True and body["data"]["issues"] == []
    impossible = {**ok_schema, "rows": 100}
    data = (await client.post("/api/v1/schema/validate", json=impossible, headers=viewer)).json()
    assert data["data"]["valid"] is False
    assert data["data"]["issues"][0]["code"] == "IMPOSSIBLE_UNIQUE"
    assert data["data"]["issues"][0]["field"] == "fields.n"
    unknown = {"fields": [{"name": "x", "type": "hologram"}]}
    data = (await client.post("/api/v1/schema/validate", json=unknown, headers=viewer)).json()
    assert data["data"]["valid"] is False
    assert data["data"]["issues"][0]["field"] == "fields[0].type"
    huge = {"rows": 10**12, "fields": [{"name": "x", "type": "uuid"}]}
    data = (await client.post("/api/v1/schema/validate", json=huge, headers=viewer)).json()
    assert {i["field"] for i in data["data"]["issues"]} >= {"rows"}


async def test_validate_needs_auth(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/v1/schema/validate", json={}), 401)


async def test_rule_extractor(client: httpx.AsyncClient, operator: dict) -> None:
    resp = await client.post(
        "/api/v1/schema/extract",
        json={"description": SENTENCE + ", and a flux capacitor", "extractor": "rules"},
        headers=operator,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["extractor"] == "rules"
    fields = {f["name"]: f for f in data["schema"]["fields"]}
    assert data["schema"]["rows"] == 1000 and data["schema"]["name"] == "customers"
    assert fields["name"]["type"] == "name" and fields["email"]["type"] == "email"
    assert (fields["age"]["type"], fields["age"]["min"], fields["age"]["max"]) == (
        "integer",
        18,
        90,
    )
    assert fields["country"]["choices"] == ["US", "DE", "FR"]
    # Not understood, yet not dropped: a text column, listed with a warning note.
    assert fields["flux_capacitor"]["type"] == "text"
    assert data["uninterpreted"] == ["a flux capacitor"]
    notes = {n["field"]: n for n in data["notes"]}
    assert set(notes) == set(fields)
    assert notes["flux_capacitor"]["level"] == "warning"
    assert notes["age"] == {
        "field": "age",
        "phrase": "age between 18 and 90",
        "message": "integer 18 to 90",
        "level": "info",
    }
    assert data["validation"]["valid"] is True


async def test_unreadable_description_is_422(client: httpx.AsyncClient, operator: dict) -> None:
    resp = await client.post(
        "/api/v1/schema/extract", json={"description": "zorp blarg quux"}, headers=operator
    )
    err = assert_error(resp, 422, "EXTRACTION_FAILED")
    assert err["details"][0]["field"] == "description"
    resp = await client.post(
        "/api/v1/schema/extract",
        json={"description": SENTENCE, "extractor": "llm"},
        headers=operator,
    )
    assert_error(resp, 422)
    assert_error(
        await client.post("/api/v1/schema/extract", json={"description": SENTENCE}, headers={}),
        401,
    )


async def test_llm_extractor(
    client: httpx.AsyncClient, operator: dict, llm_configured: FakeLLM
) -> None:
    fake = llm_configured
    schema = {
        "name": "people",
        "rows": 10,
        "fields": [
            {"name": "full_name", "type": "name"},
            {"name": "age", "type": "integer", "min": 1, "max": 9},
        ],
    }
    fake.reply("```json\n" + json.dumps(schema) + "\n```")
    resp = await client.post(
        "/api/v1/schema/extract", json={"description": "ten people"}, headers=operator
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["extractor"] == "llm" and data["model"] == "fake-model"
    assert [f["name"] for f in data["schema"]["fields"]] == ["full_name", "age"]
    asked = fake.requests[-1]
    assert asked["model"] == "fake-model" and asked["messages"][-1]["content"] == "ten people"
    assert fake.auth[-1] == "Bearer sk-test-123"


async def test_llm_second_try_fixes_a_bad_answer(
    client: httpx.AsyncClient, operator: dict, llm_configured: FakeLLM
) -> None:
    fake = llm_configured
    fake.reply('{"fields": [{"name": "x", "type": "hologram"}]}')
    fake.reply('{"fields": [{"name": "x", "type": "uuid"}]}')
    resp = await client.post(
        "/api/v1/schema/extract", json={"description": "ids"}, headers=operator
    )
    assert resp.status_code == 200, resp.text
    assert "invalid" in fake.requests[-1]["messages"][-1]["content"]


@pytest.mark.parametrize(
    "replies",
    [
        ["this is not json at all", "still {not json"],
        ['{"fields": "nope"}', '["a list"]'],
        ['{"fields": [{"name": "x", "type": "hologram"}]}'] * 2,
    ],
)
async def test_malformed_llm_output_is_a_clear_error(
    client: httpx.AsyncClient, operator: dict, llm_configured: FakeLLM, replies: list[str]
) -> None:
    for content in replies:
        llm_configured.reply(content)
    resp = await client.post(
        "/api/v1/schema/extract",
        json={"description": "anything", "extractor": "llm"},
        headers=operator,
    )
    err = assert_error(resp, 502, "LLM_BAD_OUTPUT")
    assert err["message"] and err["details"]


async def test_llm_http_errors(
    client: httpx.AsyncClient, operator: dict, llm_configured: FakeLLM
) -> None:
    body = {"description": "anything", "extractor": "llm"}
    llm_configured.replies.append((500, "upstream exploded"))
    resp = await client.post("/api/v1/schema/extract", json=body, headers=operator)
    assert_error(resp, 502, "LLM_ERROR")
    llm_configured.replies.append((200, {"unexpected": True}))
    resp = await client.post("/api/v1/schema/extract", json=body, headers=operator)
    assert_error(resp, 502, "LLM_BAD_OUTPUT")


async def test_unreachable_llm_is_503_when_asked_for_by_name(
    client: httpx.AsyncClient, operator: dict, admin: dict, llm_configured: FakeLLM
) -> None:
    llm_configured.server.shutdown()
    llm_configured.server.server_close()
    resp = await client.post(
        "/api/v1/schema/extract",
        json={"description": "anything", "extractor": "llm"},
        headers=operator,
    )
    assert_error(resp, 503, "LLM_UNAVAILABLE")
    # The offline extractor still works on request.
    resp = await client.post(
        "/api/v1/schema/extract",
        json={"description": SENTENCE, "extractor": "rules"},
        headers=operator,
    )
    assert resp.status_code == 200


@pytest.mark.parametrize("failure", ["down", "http", "bad"])
async def test_auto_falls_back_to_the_rules_with_a_note(
    client: httpx.AsyncClient, operator: dict, llm_configured: FakeLLM, failure: str
) -> None:
    if failure == "down":
        llm_configured.server.shutdown()
        llm_configured.server.server_close()
    elif failure == "http":
        llm_configured.replies.append((500, "upstream exploded"))
    else:
        llm_configured.reply("not json")
        llm_configured.reply("still not json")
    resp = await client.post(
        "/api/v1/schema/extract", json={"description": SENTENCE}, headers=operator
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["extractor"] == "rules" and data["model"] is None
    assert [f["name"] for f in data["schema"]["fields"]] == ["name", "email", "age", "country"]
    first = data["notes"][0]
    assert first["level"] == "warning" and "fake-model" in first["message"]
    assert "offline rules" in first["message"]


async def test_llm_schema_goes_through_the_validator_and_gets_notes(
    client: httpx.AsyncClient, operator: dict, llm_configured: FakeLLM
) -> None:
    fake = llm_configured
    impossible = {
        "rows": 100,
        "fields": [{"name": "code", "type": "integer", "min": 1, "max": 5, "unique": True}],
    }
    fixed = {
        "rows": 100,
        "fields": [
            {"name": "code", "type": "integer", "min": 1, "max": 500, "unique": True},
            {"name": "email", "type": "email"},
        ],
    }
    fake.reply(json.dumps(impossible))
    fake.reply(json.dumps(fixed))
    resp = await client.post(
        "/api/v1/schema/extract",
        json={"description": "100 rows with unique code, email and a shoe size"},
        headers=operator,
    )
    assert resp.status_code == 200, resp.text
    # The validator's refusal (5 values for 100 unique rows) went back to the model.
    assert "possible values" in fake.requests[-1]["messages"][-1]["content"]
    data = resp.json()["data"]
    assert data["extractor"] == "llm"
    notes = data["notes"]
    assert notes[0] == {
        "field": "code",
        "phrase": None,
        "message": "integer 1 to 500, unique (written by the LLM)",
        "level": "info",
    }
    dropped = [n for n in notes if n["level"] == "warning"]
    assert [n["phrase"] for n in dropped] == ["a shoe size"]


REVIEW_FIELDS = [
    {"name": "id", "type": "uuid", "unique": True},
    {"name": "review", "type": "text", "llm_prompt": "a one-line review of a kettle"},
]


async def test_llm_writes_free_text_once_per_job(
    client: httpx.AsyncClient, operator: dict, llm_configured: FakeLLM
) -> None:
    from tests.generator.test_jobs import wait_job

    written = [f"Kettle review number {i}: boils fast." for i in range(40)]
    llm_configured.reply(json.dumps({"texts": written}))
    body = {"schema": {"fields": REVIEW_FIELDS, "rows": 500, "chunk_size": 200, "seed": 2}}
    resp = await client.post("/api/v1/datasets", json=body, headers=operator)
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["data"]["job_id"]
    job = await wait_job(client, operator, job_id, ("succeeded", "failed"))
    assert job["status"] == "succeeded", job["error"]
    asked = len(llm_configured.requests)
    assert "kettle" in llm_configured.requests[-1]["messages"][-1]["content"]
    preview = await client.get(f"/api/v1/jobs/{job_id}/chunks/0?limit=200", headers=operator)
    reviews = {r["review"] for r in preview.json()["data"]["data"]}
    assert reviews <= set(written) and len(reviews) > 10
    listing = (await client.get(f"/api/v1/jobs/{job_id}/chunks", headers=operator)).json()
    again = await client.post(f"/api/v1/jobs/{job_id}/chunks/1", headers=operator)
    assert again.json()["data"]["checksum"] == listing["data"]["chunks"][1]["checksum"]
    assert len(llm_configured.requests) == asked  # the pool is kept with the job


async def test_llm_text_needs_an_llm(client: httpx.AsyncClient, operator: dict) -> None:
    body = {"schema": {"fields": REVIEW_FIELDS, "rows": 10}}
    resp = await client.post("/api/v1/datasets", json=body, headers=operator)
    err = assert_error(resp, 422, "LLM_NOT_CONFIGURED")
    assert err["details"][0]["field"] == "fields.review.llm_prompt"


async def test_malformed_text_pool_is_a_clear_error(fake_llm: FakeLLM) -> None:
    from foredeck.generator import llm

    cfg = llm.LLMConfig(base_url=fake_llm.url, model="m", timeout_s=5)
    fake_llm.reply('{"texts": "not a list"}')
    fake_llm.reply('{"texts": [1, 2, 3]}')
    with pytest.raises(llm.LLMBadOutput) as caught:
        await llm.texts(cfg, "reviews", 10, None)
    assert "texts" in caught.value.details[0]["field"]


async def test_size_caps_come_from_settings(
    client: httpx.AsyncClient, admin: dict, viewer: dict
) -> None:
    bad = await client.put("/api/v1/settings/generator", json={"max_rows": 0}, headers=admin)
    assert_error(bad, 422)
    resp = await client.put(
        "/api/v1/settings/generator", json={"max_rows": 1000, "max_chunk_size": 100}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    try:
        schema = {"rows": 5000, "chunk_size": 500, "fields": [{"name": "x", "type": "uuid"}]}
        data = (await client.post("/api/v1/schema/validate", json=schema, headers=viewer)).json()
        codes = {i["field"]: i["code"] for i in data["data"]["issues"]}
        assert codes == {"rows": "TOO_LARGE", "chunk_size": "TOO_LARGE"}
        small = {**schema, "rows": 1000, "chunk_size": 100}
        data = (await client.post("/api/v1/schema/validate", json=small, headers=viewer)).json()
        assert data["data"]["valid"] is True
    finally:
        await client.delete("/api/v1/settings/generator", headers=admin)
