"""`foredeck schedules` against a data dir of its own (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from foredeck.cli.main import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


@pytest.mark.sqlite_only
def test_schedules_cli(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    params = json.dumps({"source": "url", "url": "http://127.0.0.1:9/rows.csv"})
    code, out = invoke(
        "schedules", "create", "nightly", "--kind", "import", "--params", params,
        "--cron", "0 3 * * *", "--tz", "Europe/Berlin", *data,
    )  # fmt: skip
    assert code == 0, out
    assert "created schedule" in out and "next fire" in out
    code, out = invoke("schedules", "create", "bad", "--kind", "import", "--params", params,
                       "--cron", "0 3 * *", *data)  # fmt: skip
    assert code == 1 and "cron" in out
    code, out = invoke("schedules", "create", "bad", "--kind", "embed", "--every", "600", *data)
    assert code == 1 and "kind" in out
    code, out = invoke("schedules", "list", "--json", *data)
    assert code == 0, out
    rows = json.loads(out)
    assert [(r["name"], r["enabled"]) for r in rows] == [("nightly", True)]
    code, out = invoke("schedules", "pause", "nightly", *data)
    assert code == 0 and "paused" in out
    code, out = invoke("schedules", "list", "--json", *data)
    assert json.loads(out)[0]["enabled"] is False
    code, out = invoke("schedules", "resume", str(rows[0]["id"]), *data)
    assert code == 0 and "resumed" in out
    code, out = invoke("schedules", "run-now", "nightly", *data)
    assert code == 0 and "queued job" in out
    job_id = out.strip().rsplit(" ", 1)[1]
    code, out = invoke("jobs", "show", job_id, *data)
    assert code == 0 and "import" in out
    code, out = invoke("schedules", "delete", "nightly", *data)
    assert code == 0
    code, out = invoke("schedules", "pause", "nightly", *data)
    assert code == 1 and "NOT_FOUND" in out
