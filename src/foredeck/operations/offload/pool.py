"""Operations workers: child processes that do the per-row work of imports and exports.

A thread is not enough for that work inside `foredeck serve`: pure-Python row work holds the
GIL, so the event loop waits a switch interval (5 ms) every time it gives the GIL up for a
socket write, and the millions of short-lived objects trigger full garbage collections over
the server's whole heap (200-500 ms, every thread stopped). A worker process has its own GIL
and heap; the server only sends it calls and gets back counts.

A worker is started on first use (`python -m foredeck.operations.offload.process`, not
multiprocessing, which would re-import the server's main module in the child) and kept for the
next operation.
Each operation leases one for its duration, so what a worker holds belongs to one operation.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import foredeck
from foredeck.logging import get_logger
from foredeck.operations.errors import OperationFailed, WorkerError, WorkerGone
from foredeck.operations.offload.process import (
    read_frame,
    reset,
    warm,
    write_frame,
)

log = get_logger(__name__)
T = TypeVar("T")
# Idle workers kept for the next operation (an import and an export may run at once).
MAX_IDLE = 2


class OperationsWorker:
    """One worker process; one call at a time."""

    def __init__(self) -> None:
        env = dict(os.environ)
        # The child must import this same foredeck, installed or not.
        root = str(Path(foredeck.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "foredeck.operations.offload.process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.busy = False
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def call_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) in the worker; OperationFailed, WorkerError or WorkerGone on failure."""
        with self._lock:
            self.busy = True
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                write_frame(self.proc.stdin, pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL))
                data = read_frame(self.proc.stdout)
            except (OSError, ValueError) as exc:
                raise WorkerGone("the operations worker stopped unexpectedly") from exc
            if data is None:
                raise WorkerGone("the operations worker stopped unexpectedly")
            self.busy = False
        status, value = pickle.loads(data)
        if status == "ok":
            return value  # type: ignore[no-any-return]
        if status == "failed":
            raise OperationFailed(value)
        # A bug, not a refusal: the whole traceback goes to the log, its last line to the job.
        log.error("operations_worker_error", traceback=value)
        raise WorkerError(f"operations worker: {value.strip().splitlines()[-1]}")

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """call_sync in a thread: the loop only waits on it."""
        return await asyncio.to_thread(self.call_sync, fn, *args)

    def stop(self) -> None:
        """Close its input (it exits at once); kill it if it does not."""
        with contextlib.suppress(Exception):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(Exception):
            if self.proc.stdout is not None:
                self.proc.stdout.close()

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.kill()
            self.proc.wait(5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.close()


_idle: list[OperationsWorker] = []
_idle_lock = threading.Lock()


def _take() -> OperationsWorker:
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            if worker.alive:
                return worker
    return OperationsWorker()


def _give_back(worker: OperationsWorker) -> None:
    with _idle_lock:
        if worker.alive and not worker.busy and len(_idle) < MAX_IDLE:
            _idle.append(worker)
            return
    worker.stop()


def idle_count() -> int:
    """Workers ready to lease now (a split import takes a second one only if it is quick)."""
    with _idle_lock:
        return sum(1 for worker in _idle if worker.alive)


def _prestart(count: int = 1) -> None:
    if idle_count() >= count:
        return
    worker = OperationsWorker()
    try:
        worker.call_sync(warm)
    except Exception:
        log.warning("operations_worker_prestart_failed")
        worker.kill()
        return
    _give_back(worker)


def prestart() -> None:
    """Start a worker in the background (about a second), so the first operation finds it."""
    threading.Thread(target=_prestart, name="foredeck-operations-worker", daemon=True).start()


def fill(count: int) -> None:
    """Start workers until `count` are idle, and wait for them (benchmarks, tests)."""
    for _ in range(min(count, MAX_IDLE)):
        _prestart(count)


@atexit.register
def stop_idle() -> None:
    """Stop the idle workers (they would also exit when this process's pipes close)."""
    with _idle_lock:
        workers = list(_idle)
        _idle.clear()
    for worker in workers:
        worker.stop()


@contextlib.asynccontextmanager
async def lease() -> AsyncIterator[OperationsWorker]:
    """A worker for one operation; it is reset (or, cut off mid-call, killed) afterwards."""
    worker = await asyncio.to_thread(_take)
    try:
        yield worker
    finally:
        if worker.busy or not worker.alive:
            # A call still running (its task was cancelled): what it leaves is unknown.
            await asyncio.to_thread(worker.kill)
        else:
            try:
                await worker.call(reset)
            except Exception:
                log.warning("operations_worker_reset_failed")
                await asyncio.to_thread(worker.kill)
            else:
                await asyncio.to_thread(_give_back, worker)
