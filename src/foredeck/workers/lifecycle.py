"""Workers start-up: the executor for this process and the maintenance loop.

- `foredeck serve`, embedded: an in-process pool claims jobs from the database.
- `foredeck serve`, scale-out: jobs go to Celery after commit; no pool here.
- `foredeck worker` (sets `runtime.worker_process`): Celery runs the jobs; no pool either.
"""

from __future__ import annotations

from foredeck.kit.runtime import Runtime
from foredeck.workers.maintenance import Maintenance
from foredeck.workers.parts import DISPATCHER, EXECUTOR, MAINTENANCE


async def _embedded_health(runtime: Runtime) -> str:
    executor = runtime.get(EXECUTOR)
    return "connected" if executor is not None and executor.is_running else "disconnected"


async def startup(runtime: Runtime) -> None:
    config = runtime.config
    worker_process = runtime.worker_process
    if config.embedded:
        if not worker_process and config.workers > 0:
            from foredeck.workers.embedded import EmbeddedExecutor

            executor = runtime[EXECUTOR] = EmbeddedExecutor(runtime, concurrency=config.workers)
            await executor.start()
            runtime.health_checks["task_queue"] = _embedded_health
            runtime.features.add("task_queue:embedded")
    else:
        from foredeck.workers.celery_app import CeleryDispatcher, celery_health

        if not worker_process:
            dispatcher = runtime[DISPATCHER] = CeleryDispatcher(runtime)
            dispatcher.start()
        runtime.health_checks["task_queue"] = celery_health
        runtime.features.add("task_queue:celery")
    maintenance = runtime[MAINTENANCE] = Maintenance(runtime, enabled=not worker_process)
    await maintenance.start()


async def shutdown(runtime: Runtime) -> None:
    maintenance = runtime.pop(MAINTENANCE)
    if maintenance is not None:
        await maintenance.stop()
    executor = runtime.pop(EXECUTOR)
    if executor is not None:
        await executor.stop()
    dispatcher = runtime.pop(DISPATCHER)
    if dispatcher is not None:
        dispatcher.stop()
