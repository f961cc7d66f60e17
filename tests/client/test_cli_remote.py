"""The server-facing CLI commands with --url / --token (or FOREDECK_URL / FOREDECK_TOKEN)
against the session app served over real HTTP on 127.0.0.1.

The CLI runs in a thread (typer's CliRunner), so the in-loop server keeps answering it.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from pathlib import Path

import httpx
import pytest
from click.testing import Result
from fastapi import FastAPI
from typer.testing import CliRunner

from foredeck.cli.main import app as cli_app
from tests.client.live import free_port
from tests.conftest import unique
from tests.index.helpers import wait_embedded

runner = CliRunner()


async def _key(client: httpx.AsyncClient, headers: dict) -> str:
    resp = await client.post("/api/v1/api_keys", json={"name": unique("k")}, headers=headers)
    return str(resp.json()["data"]["key"])


@pytest.fixture(scope="module")
async def remote(live_url: str, client: httpx.AsyncClient, operator: dict) -> list[str]:
    return ["--url", live_url, "--token", await _key(client, operator)]


async def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return await asyncio.to_thread(
        runner.invoke, cli_app, list(args), env={"COLUMNS": "200", **(env or {})}
    )


def _ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_jobs_over_http(live_url: str, remote: list[str], client: httpx.AsyncClient) -> None:
    out = _ok(await cli("jobs", "test", "--count", "3", "--delay", "0", "--watch", *remote))
    job_id = re.search(r"job (\S+): .*succeeded", out)
    assert job_id, out
    job_id_s = job_id.group(1)
    # The URL and token from the environment work as well as the options.
    env = {"FOREDECK_URL": remote[1], "FOREDECK_TOKEN": remote[3]}
    listed = json.loads(_ok(await cli("jobs", "list", "--kind", "test", "--json", env=env)))
    assert [j["status"] for j in listed if j["id"] == job_id_s] == ["succeeded"]
    shown = _ok(await cli("jobs", "show", job_id_s, *remote))
    assert '"counted": 3' in shown and "succeeded" in shown
    watched = _ok(await cli("jobs", "watch", job_id_s, *remote))
    assert "status" in watched and "succeeded" in watched
    # A server error envelope: its status, code and message, exit 1.
    refused = await cli("jobs", "retry", job_id_s, *remote)
    assert refused.exit_code == 1
    assert "409 INVALID_JOB_STATE" in refused.stderr, refused.output
    missing = await cli("jobs", "show", "no-such-job", *remote)
    assert missing.exit_code == 1 and "404 NOT_FOUND" in missing.stderr
    queued = _ok(await cli("jobs", "test", "--count", "1000", "--delay", "1", *remote))
    queued_id = re.search(r"test job (\S+):", queued)
    assert queued_id, queued
    assert "cancel" in _ok(await cli("jobs", "cancel", queued_id.group(1), *remote))
    resp = await client.get(
        f"/api/v1/jobs/{queued_id.group(1)}", headers={"Authorization": f"Bearer {remote[3]}"}
    )
    assert resp.json()["data"]["status"] in ("cancelling", "cancelled")


async def test_import_export_search_over_http(
    app: FastAPI, client: httpx.AsyncClient, remote: list[str], operator: dict, tmp_path: Path
) -> None:
    collection = unique("cli")
    source = tmp_path / "notes.jsonl"
    source.write_text(
        "\n".join(
            json.dumps({"key": f"n{i}", "body": f"lighthouse note {i}", "topic": "sea"})
            for i in range(12)
        )
    )
    mapping = "content=body,external_id=key,metadata=topic"
    out = _ok(
        await cli("import", str(source), "--collection", collection, "--mapping", mapping, *remote)
    )
    assert "12" in out
    # The file was uploaded: the records are on the server.
    resp = await client.get(
        f"/api/v1/memories?collection={collection}&per_page=50", headers=operator
    )
    records = resp.json()["data"]
    assert sorted(r["external_id"] for r in records) == sorted(f"n{i}" for i in range(12))

    target = tmp_path / "out.jsonl"
    args = ["export", "--format", "jsonl", "--collection", collection, "--out", str(target)]
    assert "wrote 12 records" in _ok(await cli(*args, *remote))
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert sorted(r["external_id"] for r in lines) == sorted(f"n{i}" for i in range(12))
    assert {r["content"] for r in lines} == {f"lighthouse note {i}" for i in range(12)}

    await wait_embedded(app, client, operator, collection, 12)
    found = _ok(
        await cli("search", "lighthouse note 7", "--collection", collection, "--json", *remote)
    )
    hits = json.loads(found)["hits"]
    assert "lighthouse note 7" in [h["memory"]["content"] for h in hits]

    bad = await cli("import", str(source), "--mapping", "content=nope", *remote)
    assert bad.exit_code == 1 and "422" in bad.stderr and "mapping" in bad.stderr


async def test_index_over_http(
    live_url: str, remote: list[str], client: httpx.AsyncClient, admin: dict, tmp_path: Path
) -> None:
    stats = json.loads(_ok(await cli("index", "stats", "--json", *remote)))
    assert "vector_count" in stats
    rebuilt = _ok(await cli("index", "rebuild", *remote))
    assert re.search(r"rebuilt: \d+ vectors", rebuilt), rebuilt
    snap = tmp_path / "snap.tar"
    saved = _ok(await cli("index", "snapshot", "save", str(snap), *remote))
    checksum = re.search(r"sha256 ([0-9a-f]{64})", saved)
    assert checksum and snap.stat().st_size > 0, saved
    # Restoring needs an admin: an operator's key gets the server's 403.
    denied = await cli("index", "snapshot", "restore", str(snap), *remote)
    assert denied.exit_code == 1 and "403" in denied.stderr
    admin_remote = ["--url", live_url, "--token", await _key(client, admin)]
    restored = _ok(await cli("index", "snapshot", "restore", str(snap), *admin_remote))
    # The server verified the uploaded bytes against the checksum they were saved with.
    assert f"sha256 {checksum.group(1)}" in restored


async def test_generate_over_http(remote: list[str], tmp_path: Path) -> None:
    target = tmp_path / "people.csv"
    args = ["generate", "people with name, unique email", "--rows", "40", "--seed", "3"]
    out = _ok(
        await cli(*args, "--chunk-size", "15", "--format", "csv", "--out", str(target), *remote)
    )
    assert "wrote 40 rows" in out
    with target.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 40 and list(rows[0]) == ["name", "email"]
    assert len({r["email"] for r in rows}) == 40
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "rows": 100,
                "fields": [{"name": "a", "type": "integer", "min": 1, "max": 5, "unique": True}],
            }
        )
    )
    invalid = await cli("schema", "validate", str(bad), *remote)
    assert invalid.exit_code == 1 and "IMPOSSIBLE_UNIQUE" in invalid.stderr


async def test_unreachable_server_and_bad_token(live_url: str) -> None:
    down = await cli("jobs", "list", "--url", f"http://127.0.0.1:{free_port()}")
    assert down.exit_code == 1
    assert "connection refused" in down.stderr, down.output
    assert "Traceback" not in down.output
    wrong = await cli("index", "stats", "--url", live_url, "--token", "fdk_not-a-key")
    assert wrong.exit_code == 1 and "401" in wrong.stderr, wrong.output


async def test_workers_over_http(
    live_url: str, remote: list[str], client: httpx.AsyncClient, operator: dict
) -> None:
    listed = json.loads(_ok(await cli("workers", "list", "--json", *remote)))
    running = [w for w in listed["workers"] if w["status"] == "running"]
    assert running and "draining" in listed["controls"], listed
    worker_id = running[0]["id"]
    try:
        assert f"paused {worker_id}" in _ok(await cli("workers", "pause", worker_id, *remote))
        resp = await client.get(f"/api/v1/workers/{worker_id}", headers=operator)
        assert resp.json()["data"]["paused"] is True
        table = _ok(await cli("workers", "list", *remote))
        assert re.search(rf"{re.escape(worker_id[:20])}.*paused", table), table
    finally:
        _ok(await cli("workers", "resume", worker_id, *remote))
    resp = await client.get(f"/api/v1/workers/{worker_id}", headers=operator)
    assert resp.json()["data"]["paused"] is False
    try:
        assert "draining" in _ok(await cli("workers", "drain", *remote))
    finally:
        assert "drain ended" in _ok(await cli("workers", "undrain", *remote))
    resp = await client.get("/api/v1/workers/controls", headers=operator)
    assert resp.json()["data"]["draining"] is False
    missing = await cli("workers", "pause", "no-such-worker", *remote)
    assert missing.exit_code == 1 and "404" in missing.stderr, missing.output


def _found_by(table: str) -> dict[int, str]:
    """{record id: the "found by" cell} of the CLI's search table (columns #, score, found
    by, id, collection, content)."""
    out = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 6 and cells[3].isdigit():
            out[int(cells[3])] = cells[2]
    return out


async def test_search_table_says_which_lists_found_each_hit(
    app: FastAPI, client: httpx.AsyncClient, remote: list[str], operator: dict
) -> None:
    collection = unique("found")
    ids = []
    for content in (
        "Ticket INC-78103: the printer on floor two jams every morning",
        "Ticket INC-78113: the badge reader at the side door stays red",
        "lighthouse keepers watch the sea at night",
    ):
        resp = await client.post(
            "/api/v1/memories",
            json={"content": content, "collection": collection},
            headers=operator,
        )
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["data"]["id"])
    exact, twin, other = ids
    await wait_embedded(app, client, operator, collection, 3)
    scope = ["--collection", collection, *remote]

    hybrid = _found_by(_ok(await cli("search", "INC-78103", *scope)))
    as_json = json.loads(_ok(await cli("search", "INC-78103", "--json", *scope)))["hits"]
    ranks = {h["memory"]["id"]: (h["semantic_rank"], h["keyword_rank"]) for h in as_json}
    assert set(hybrid) == {exact, twin, other}, hybrid
    # The exact identifier is in both lists; its near-twin and the unrelated record only in
    # the semantic one. The cell names each list with the hit's rank in it, as the API does.
    assert ranks[exact][1] == 1 and ranks[exact][0] is not None
    assert hybrid[exact] == f"semantic #{ranks[exact][0]}, keyword #1"
    for semantic_only in (twin, other):
        assert ranks[semantic_only][1] is None
        assert hybrid[semantic_only] == f"semantic #{ranks[semantic_only][0]}"

    keyword = _found_by(_ok(await cli("search", "INC-78103", "--mode", "keyword", *scope)))
    assert keyword == {exact: "keyword #1"}
    semantic = _found_by(_ok(await cli("search", "INC-78103", "--mode", "semantic", *scope)))
    assert set(semantic) == {exact, twin, other}
    assert all(
        cell.startswith("semantic #") and "keyword" not in cell for cell in semantic.values()
    )
