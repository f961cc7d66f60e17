"""The access log: `foredeck serve` in JSON mode prints only JSON lines, one access line per
API request (never its query string or Authorization header), probes below info level; and
in process, the line's fields for an authenticated call, an error and an unmatched path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from structlog.testing import capture_logs

from tests.console.server import free_port

SECRET = "qs-secret-6b1f0e"


def _lines(text: str) -> list[dict]:
    """Every non-empty line as JSON (a line that is not JSON fails the test)."""
    out = []
    for line in text.splitlines():
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise AssertionError(f"not a JSON line: {line!r}") from None
    return out


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_json_mode_prints_only_json_with_access_lines(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FOREDECK_") or k == "FOREDECK_TEST_REDIS_URL"
    }
    env.update(
        FOREDECK_DATA_DIR=str(tmp_path),
        FOREDECK_LOG_FORMAT="json",
        FOREDECK_EMBEDDING_MODEL="static-64",
    )
    port = free_port()
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "foredeck.cli", "serve", "--port", str(port)],
        env=env,
        stdout=out.open("wb"),
        stderr=err.open("wb"),
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, err.read_text()[-3000:]
            assert time.monotonic() < deadline, "foredeck serve did not become ready"
            try:
                if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        first = next(e for e in _lines(out.read_text()) if e["event"] == "first_admin_created")
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            json={"username": first["username"], "password": first["password"]},
        ).json()["data"]["access_token"]
        resp = httpx.get(
            f"{base}/api/v1/jobs/{SECRET}?api_key={SECRET}",
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "trace-me-1"},
        )
        assert resp.status_code == 404
        listed = httpx.get(
            f"{base}/api/v1/memories?per_page=5&token={SECRET}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert listed.status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=60)
    stderr_text, stdout_text = err.read_text(), out.read_text()
    events = _lines(stderr_text) + _lines(stdout_text)
    assert SECRET not in stderr_text and token not in stderr_text
    assert "authorization" not in stderr_text.lower()
    access = [e for e in events if e["event"] == "http_request"]
    by_id = {e.get("request_id"): e for e in access}
    line = by_id["trace-me-1"]
    assert line["method"] == "GET" and line["path"] == "/api/v1/jobs/{job_id}"
    assert line["status"] == 404 and line["principal"] == first["username"]
    assert line["auth"] == "token" and line["bytes"] > 0 and line["duration_ms"] >= 0
    records = next(e for e in access if e["path"] == "/api/v1/memories")
    assert records["status"] == 200 and records["bytes"] == len(listed.content)
    assert any(e["path"] == "/api/v1/auth/token" and e["method"] == "POST" for e in access)
    # Probes were polled many times while starting: none reaches the info-level log.
    assert not any(e["path"].startswith("/health") for e in access)
    # The stdlib loggers come through the same renderer: alembic's migrations, uvicorn's start.
    loggers = {e.get("logger") for e in events}
    assert any(str(name).startswith("alembic") for name in loggers), loggers
    assert "uvicorn.error" in loggers, loggers
    assert any(e["event"] == "foredeck_started" for e in events)


async def test_access_line_fields_in_process(client: httpx.AsyncClient, viewer: dict) -> None:
    with capture_logs() as logs:
        ok = await client.get(
            "/api/v1/memories?per_page=2", headers={**viewer, "X-Request-ID": "access-ok-1"}
        )
        missing = await client.get(f"/no/such/page?secret={SECRET}")
        denied = await client.get("/api/v1/memories")
    assert ok.status_code == 200 and missing.status_code == 404 and denied.status_code == 401
    access = [e for e in logs if e["event"] == "http_request"]
    assert len(access) == 3, access
    first, unmatched, anonymous = access
    assert first["path"] == "/api/v1/memories" and first["status"] == 200
    assert first["auth"] == "token" and first["principal"] and first["route_matched"] is True
    assert first["bytes"] == len(ok.content) and first["log_level"] == "info"
    assert unmatched["path"] == "/no/such/page" and unmatched["route_matched"] is False
    assert unmatched["status"] == 404
    assert anonymous["status"] == 401 and anonymous["principal"] is None
    assert SECRET not in repr(logs)
