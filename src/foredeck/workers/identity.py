"""Which worker id a pool takes at start: its stable default unless a live process holds it.

A stable id (`embedded@host`) keeps one row per server and lets a restart take back, at once,
the jobs its crashed predecessor held. But two live pools on one id would requeue each other's
running jobs at start and mark each other stopped at exit, so a second pool on the same host
(another `foredeck serve`, or a second app in one process) takes a suffixed id instead.
"""

from __future__ import annotations

import os
import socket
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.models.jobs import Worker

# Ids held by pools running in this process: a row naming our own pid is live only if listed.
_IN_USE: set[str] = set()


def default_worker_id(role: str) -> str:
    return f"{role}@{socket.gethostname()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held_by_live_process(worker: Worker | None, worker_id: str) -> bool:
    """Whether the row names a pool that still runs (on this host; elsewhere we cannot tell)."""
    if worker is None or worker.status == "stopped":
        return False
    if worker.host != socket.gethostname():
        # Same id from another host: an operator's explicit name; theirs to keep apart.
        return False
    if worker.pid == os.getpid():
        return worker_id in _IN_USE
    return _pid_alive(worker.pid)


async def take_worker_id(session: AsyncSession, base: str) -> str:
    """`base` if free (or left by a dead process), else `base-<random>`; marked in use."""
    worker_id = base
    if worker_id in _IN_USE or held_by_live_process(await session.get(Worker, base), base):
        worker_id = f"{base}-{uuid.uuid4().hex[:6]}"
    _IN_USE.add(worker_id)
    return worker_id


def release_worker_id(worker_id: str) -> None:
    _IN_USE.discard(worker_id)
