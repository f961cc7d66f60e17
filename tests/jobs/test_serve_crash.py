"""kill -9 of `foredeck serve` mid-job (embedded mode): after a restart the job resumes from its
checkpoint on the next attempt, its lock is free, and the killed attempt is recorded lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, unique
from tests.console.server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]


def _env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("FOREDECK_DATABASE_URL", "FOREDECK_REDIS_URL")
    }
    return {
        **env,
        "FOREDECK_DATA_DIR": str(data_dir),
        "FOREDECK_EMBEDDING_MODEL": "static-64",
        "FOREDECK_LOG_LEVEL": "WARNING",
    }


def _serve(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "foredeck.cli", "serve", "--port", str(port)],
        env=_env(data_dir),
        stdout=subprocess.DEVNULL,
        stderr=open(data_dir / f"serve-{port}.log", "wb"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, (data_dir / f"serve-{port}.log").read_text()[-3000:]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("foredeck serve did not become ready")


def _wait(client: httpx.Client, job_id: str, statuses: tuple[str, ...], done: int = 0) -> dict:
    deadline = time.monotonic() + 90
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}").json()["data"]
        if job["status"] in statuses and job["progress"]["done"] >= done:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job never reached {statuses}: {job}")


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    user = unique("crash")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "foredeck.cli",
            "users",
            "create",
            user,
            "--role",
            "operator",
            "--password",
            PASSWORD,
        ],
        env=_env(tmp_path),
        check=True,
        capture_output=True,
    )
    (tmp_path / "user").write_text(user)
    yield tmp_path


def _client(port: int, data_dir: Path) -> httpx.Client:
    url = f"http://127.0.0.1:{port}"
    user = (data_dir / "user").read_text()
    token = httpx.post(
        f"{url}/api/v1/auth/token", json={"username": user, "password": PASSWORD}
    ).json()["data"]["access_token"]
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_kill_9_of_serve_mid_job_resumes_after_restart(data_dir: Path) -> None:
    port = free_port()
    first = _serve(data_dir, port)
    try:
        with _client(port, data_dir) as client:
            lock = unique("serve-crash")
            resp = client.post(
                "/api/v1/jobs",
                json={"kind": "test", "params": {"count": 30, "delay": 0.1, "lock": lock}},
            )
            assert resp.status_code == 202, resp.text
            job_id = resp.json()["data"]["job"]["id"]
            running = _wait(client, job_id, ("running",), done=3)
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)

    second = _serve(data_dir, port)
    try:
        with _client(port, data_dir) as client:
            done = _wait(client, job_id, ("succeeded", "failed"))
            assert done["status"] == "succeeded", done
            # The attempt that lost its process is given back.
            assert done["attempts"] == 1
            assert done["result"]["resumed_from"] >= running["progress"]["done"] - 1
            runs = client.get(f"/api/v1/jobs/{job_id}/runs").json()["data"]
            assert [r["status"] for r in runs] == ["lost", "succeeded"]
            locks = client.get("/api/v1/locks").json()["data"]
            assert not next(lk for lk in locks if lk["name"] == f"test:{lock}")["held"]
    finally:
        second.terminate()
        second.wait(30)
