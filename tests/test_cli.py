"""The foredeck command against a fresh data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def run(
    args: list[str], data_dir: Path, python: bool = False, **kw
) -> subprocess.CompletedProcess[str]:
    """The foredeck command (or, with python=True, plain Python) on this data dir."""
    env = {**os.environ, "FOREDECK_DATA_DIR": str(data_dir)}
    # Local mode: a server URL or database in the caller's environment must not leak in.
    for name in ("FOREDECK_DATABASE_URL", "FOREDECK_URL", "FOREDECK_TOKEN"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, *([] if python else ["-m", "foredeck.cli"]), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        **kw,
    )


def test_db_users_and_keys(tmp_path: Path) -> None:
    assert "foredeck" in run(["version"], tmp_path).stdout
    up = run(["db", "upgrade"], tmp_path)
    assert up.returncode == 0, up.stderr
    current = run(["db", "current"], tmp_path)
    assert "up to date" in current.stdout
    made = run(
        ["users", "create", "ops", "--role", "operator", "--password", "pw-123456"], tmp_path
    )
    assert made.returncode == 0, made.stderr
    again = run(["users", "create", "ops", "--password", "pw-123456"], tmp_path)
    assert again.returncode == 1 and "already exists" in again.stdout + again.stderr
    listed = run(["users", "list"], tmp_path)
    assert "ops" in listed.stdout and "operator" in listed.stdout
    key = run(["api-keys", "create", "ops", "--name", "laptop"], tmp_path)
    assert key.returncode == 0, key.stderr
    secret = key.stdout.strip().splitlines()[-1]
    assert secret.startswith("fdk_")
    prefix = secret[4:12]
    assert run(["api-keys", "revoke", prefix], tmp_path).returncode == 0
    assert run(["api-keys", "revoke", "nonexist"], tmp_path).returncode == 1
    down = run(["db", "downgrade", "base"], tmp_path)
    assert down.returncode == 0, down.stderr
    assert "(empty)" in run(["db", "current"], tmp_path).stdout


def test_workers_local(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], tmp_path).returncode == 0
    listed = run(["workers", "list", "--json"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {
        "workers": [],
        "controls": {"draining": False, "paused_all": False, "paused_queues": [], "active_jobs": 0},
    }
    assert "draining" in run(["workers", "drain"], tmp_path).stdout
    assert "paused all workers" in run(["workers", "pause"], tmp_path).stdout
    controls = json.loads(run(["workers", "list", "--json"], tmp_path).stdout)["controls"]
    assert (controls["draining"], controls["paused_all"]) == (True, True)
    assert "drain ended" in run(["workers", "undrain"], tmp_path).stdout
    assert "resumed" in run(["workers", "resume"], tmp_path).stdout
    controls = json.loads(run(["workers", "list", "--json"], tmp_path).stdout)["controls"]
    assert (controls["draining"], controls["paused_all"]) == (False, False)
    missing = run(["workers", "pause", "no-such-worker"], tmp_path)
    assert missing.returncode == 1 and "NOT_FOUND" in missing.stderr, missing.stderr
