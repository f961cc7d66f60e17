"""A local scale-out cluster for end-to-end tests: `foredeck serve` replicas and `foredeck worker`
processes as subprocesses on 127.0.0.1, each with its own data directory, sharing only one
PostgreSQL database, one Redis and one S3-compatible store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.console.server import free_port


@dataclass
class RedisServer:
    """A private `redis-server` on a free loopback port, so a test may stop and restart it
    without touching the Redis other tests and sessions share. Nothing is kept on disk, as the
    shared one is run: a restart loses every key and every queued message."""

    workdir: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, deadline: float = 20) -> None:
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port)]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        with open(self.workdir / "redis.log", "ab") as handle:
            self.proc = subprocess.Popen(args, stdout=handle, stderr=handle)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        try:
            poll(lambda: self._pings(client), f"redis-server on {self.port}", deadline=deadline)
        finally:
            client.close()

    def _pings(self, client: redis.Redis) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "redis-server exited"
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    def crash(self) -> None:
        """kill -9: no shutdown, nothing saved."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    redis: RedisServer
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)

    def data_dir(self, name: str) -> Path:
        """The process's own data directory: nothing in it is seen by any other process."""
        path = self.root / name
        path.mkdir(exist_ok=True)
        return path

    def env_of(self, name: str) -> dict[str, str]:
        return {**self.env, "FOREDECK_DATA_DIR": str(self.data_dir(name))}

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        with open(self.log(name), "wb") as handle:
            proc = subprocess.Popen(
                [sys.executable, "-m", "foredeck.cli", *args],
                env=self.env_of(name),
                stdout=subprocess.DEVNULL,
                stderr=handle,
                # Its own process group: kill -9 reaches its children (Celery's pool) too.
                start_new_session=True,
            )
        self.procs[name] = proc
        return proc

    def serve(self, name: str) -> str:
        """Start a replica; returns its base URL (wait for it with `ready`)."""
        port = free_port()
        self.ports[name] = port
        self._start(name, ["serve", "--host", "127.0.0.1", "--port", str(port)])
        return f"http://127.0.0.1:{port}"

    def ready(self, name: str, *, deadline: float = 120) -> None:
        proc, url = self.procs[name], f"http://127.0.0.1:{self.ports[name]}"
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            assert proc.poll() is None, self.tail(name)
            try:
                if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{name} never became ready: {self.tail(name)}")

    def worker(self, name: str, concurrency: int = 2) -> subprocess.Popen[bytes]:
        return self._start(name, ["worker", "--name", name, "-c", str(concurrency)])

    def cli(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "foredeck.cli", *args],
            env=self.env_of("cli"),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def kill(self, name: str) -> None:
        """kill -9 the process group, as the OOM killer or a lost machine would."""
        proc = self.procs[name]
        self.killed.add(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def tail(self, name: str, chars: int = 3000) -> str:
        path = self.log(name)
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM everything still running, then SIGKILL what did not stop in time."""
        alive = [p for p in self.procs.values() if p.poll() is None]
        for proc in alive:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        end = time.monotonic() + 20
        for proc in alive:
            try:
                proc.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)


def poll(fn: Any, what: str, *, deadline: float = 60, every: float = 0.1) -> Any:
    """Call fn until it returns something truthy; fail after the deadline (an upper bound)."""
    end = time.monotonic() + deadline
    last: Any = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {deadline} s (last: {last!r})")
