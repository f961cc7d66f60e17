"""What the workers start-up puts on the runtime (see foredeck.kit.runtime)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.kit.runtime import Part

if TYPE_CHECKING:
    from foredeck.workers.celery_app import CeleryDispatcher
    from foredeck.workers.embedded import EmbeddedExecutor
    from foredeck.workers.maintenance import Maintenance

# The operator's per-queue slots, or None while none are set (`concurrency` slots shared by
# all queues). The settings domain hands one in at start-up, so the engine reads its
# settings without importing them.
SlotReader = Callable[[AsyncSession], Awaitable[dict[str, int] | None]]
WORKER_SLOTS: Part[SlotReader] = Part("worker_slots")
# Embedded mode only: the in-process pool.
EXECUTOR: Part[EmbeddedExecutor] = Part("executor")
# Scale-out serving processes only: sends committed jobs to Celery.
DISPATCHER: Part[CeleryDispatcher] = Part("celery_dispatcher")
MAINTENANCE: Part[Maintenance] = Part("maintenance")
# Told the kind, final status and seconds of every finished attempt (the telemetry domain's
# job metrics, handed in at its start-up).
JobObserver = Callable[[str, str, float], None]
JOB_OBSERVER: Part[JobObserver] = Part("job_observer")
