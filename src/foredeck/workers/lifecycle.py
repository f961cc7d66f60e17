"""Workers start-up: the executor for this process and the maintenance loop.

- `foredeck serve`, embedded: an in-process pool claims jobs from the database.
- `foredeck serve`, scale-out: jobs go to Celery after commit; no pool here.
- `foredeck worker` (sets `app.state.worker_process`): Celery runs the jobs; no pool either.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from foredeck.workers.maintenance import Maintenance


async def _embedded_health(app: FastAPI) -> str:
    executor = getattr(app.state, "executor", None)
    return "connected" if executor is not None and executor.is_running else "disconnected"


async def startup(app: FastAPI) -> None:
    config = app.state.config
    app.state.executor = None
    app.state.celery_dispatcher = None
    worker_process = bool(getattr(app.state, "worker_process", False))
    if config.embedded:
        if not worker_process and config.workers > 0:
            from foredeck.workers.embedded import EmbeddedExecutor

            app.state.executor = EmbeddedExecutor(app.state, concurrency=config.workers)
            await app.state.executor.start()
            app.state.health_checks["task_queue"] = _embedded_health
            app.state.features.add("task_queue:embedded")
    else:
        from foredeck.workers.celery_app import CeleryDispatcher, celery_health

        if not worker_process:
            app.state.celery_dispatcher = CeleryDispatcher(app.state)
            app.state.celery_dispatcher.start()
        app.state.health_checks["task_queue"] = celery_health
        app.state.features.add("task_queue:celery")
    app.state.maintenance = Maintenance(app.state, enabled=not worker_process)
    await app.state.maintenance.start()


async def shutdown(app: FastAPI) -> None:
    maintenance: Any = getattr(app.state, "maintenance", None)
    if maintenance is not None:
        await maintenance.stop()
    executor = getattr(app.state, "executor", None)
    if executor is not None:
        await executor.stop()
    dispatcher = getattr(app.state, "celery_dispatcher", None)
    if dispatcher is not None:
        dispatcher.stop()
