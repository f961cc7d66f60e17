"""The OpenAPI document tells the truth: references resolve, 400 is documented where it can be
answered, and the non-JSON answers declare their media types."""

from __future__ import annotations

from typing import Any

import httpx

from foredeck.generator.storage import MEDIA_TYPES as DATASET_MEDIA_TYPES
from foredeck.jobs.outputs import MEDIA_TYPES
from foredeck.operations.exports.run import MEDIA_TYPES as EXPORT_MEDIA_TYPES
from tests.conftest import assert_error

METHODS = ("get", "post", "put", "patch", "delete")


async def _spec(client: httpx.AsyncClient) -> dict[str, Any]:
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    return resp.json()  # type: ignore[no-any-return]


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


async def test_every_reference_resolves_under_components(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert "$defs" not in node, "a schema carries $defs that OpenAPI tools do not read"
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    assert len(refs) > 100
    for ref in refs:
        assert ref.startswith("#/components/schemas/"), ref
        _resolve(spec, ref)
    body = spec["paths"]["/api/v1/operations/import"]["post"]["requestBody"]
    mapping = body["content"]["application/json"]["schema"]["properties"]["mapping"]
    assert mapping == {"$ref": "#/components/schemas/ColumnMapping"}
    column_mapping = _resolve(spec, mapping["$ref"])
    assert "default_memory_type" in column_mapping["properties"]


async def test_every_operation_with_a_body_documents_400(client: httpx.AsyncClient) -> None:
    spec = await _spec(client)
    with_body = [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS and "requestBody" in op
    ]
    assert len(with_body) > 20
    for method, path, op in with_body:
        answer = op["responses"].get("400")
        assert answer is not None, f"{method.upper()} {path} does not document 400"
        schema = answer["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}


async def test_a_body_that_is_not_utf8_is_the_documented_400(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    resp = await client.post(
        "/api/v1/memories",
        content=b'{"content": "\xff\xfe"}',
        headers={**operator, "Content-Type": "application/json"},
    )
    assert_error(resp, 400, "BAD_REQUEST")


async def test_non_json_answers_declare_their_media_types(client: httpx.AsyncClient) -> None:
    paths = (await _spec(client))["paths"]

    def media(path: str) -> set[str]:
        return set(paths[path]["get"]["responses"]["200"]["content"])

    assert media("/api/v1/index/snapshot") == {"application/x-tar"}
    assert media("/api/v1/telemetry/stream") == {"text/event-stream"}
    assert media("/api/v1/jobs/{job_id}/events") == {"text/event-stream"}
    assert media("/metrics") == {"text/plain"}
    # Every format an export or a generated dataset is downloaded in is declared.
    producible = {*EXPORT_MEDIA_TYPES.values(), *DATASET_MEDIA_TYPES.values()}
    assert producible <= set(MEDIA_TYPES)
    assert media("/api/v1/jobs/{job_id}/download") == set(MEDIA_TYPES)
