"""Start-up of the embedding domain: load the model, and keep an `embed` job coming.

Records become searchable with nobody doing anything: a small loop notices due records and
queues an `embed` job when none is queued or running. The job kind's lock makes that safe
with many replicas: a second create_job gets 409 and the loop simply tries again later.
The same loop notices a changed `embedding.model` setting and starts the live model switch
(`foredeck.index.model_switch`); saving the section wakes it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from foredeck.db import transaction
from foredeck.embedding import registry
from foredeck.embedding import service as embedding_service
from foredeck.embedding.parts import EMBED_WAKEUP, EMBEDDER
from foredeck.errors import AppError
from foredeck.index.parts import INDEX_MANAGER
from foredeck.kit.background import logged_failure
from foredeck.kit.runtime import Part, Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.settings import service as settings_service

log = get_logger(__name__)
# The loop this start-up runs, kept on the runtime for its shutdown.
LOOP: Part[asyncio.Task[None]] = Part("embed_loop")
LISTENER: Part[Callable[[str], None]] = Part("embedding_settings_listener")


async def chosen_model(runtime: Runtime) -> str:
    """The operator's setting (DB) when valid, else the process default."""
    config = runtime.config
    try:
        from foredeck.settings import service as settings_service

        async with runtime.sessionmaker() as session:
            section = await settings_service.get_section(session, "embedding")
        if section.model:
            registry.model_info(config, section.model)
            return section.model
    except AppError as exc:
        log.error("embedding_setting_unusable", error=exc.message)
    return registry.default_model(config)


async def ensure_embed_job(runtime: Runtime) -> str | None:
    """Queue an embed job if records are due and none is active; returns its id."""
    from foredeck.jobs import service as jobs_service
    from foredeck.models.jobs import ACTIVE_STATUSES, Job

    async with runtime.sessionmaker() as session:
        due = await embedding_service.has_due(session)
    if not due:
        from foredeck.index import service as index_service

        # Nothing left to embed: after a model change, the new index is now complete.
        async with transaction(runtime.sessionmaker) as session:
            finished = await index_service.finish_reembedding(session)
        if finished is not None:
            index_service.reembedding_finished(runtime, finished)
        return None
    async with transaction(runtime.sessionmaker) as session:
        active = await session.scalar(
            select(Job.id).where(Job.kind == "embed", Job.status.in_(ACTIVE_STATUSES)).limit(1)
        )
        if active is not None:
            return None
        last = (
            await session.execute(
                select(Job.finished_at, Job.result)
                .where(Job.kind == "embed", Job.finished_at.is_not(None))
                .order_by(Job.finished_at.desc())
                .limit(1)
            )
        ).first()
        if last is not None and (last.result or {}).get("provider_errors"):
            cooldown = timedelta(seconds=runtime.config.embedding_retry_seconds)
            if last.finished_at > utcnow() - cooldown:
                return None
        try:
            job = await jobs_service.create_job(
                session, kind="embed", params={"model": runtime[EMBEDDER].name}
            )
        except AppError:
            # Another replica queued one first, or workers are draining.
            return None
        return job.id


async def _loop(runtime: Runtime) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                runtime[EMBED_WAKEUP].wait(), runtime.config.embedding_poll_seconds
            )
        runtime[EMBED_WAKEUP].clear()
        with logged_failure("embed_loop_failed"):
            if runtime.get(INDEX_MANAGER) is not None:
                from foredeck.index import model_switch

                await model_switch.watch_settings(runtime)
            await ensure_embed_job(runtime)


async def startup(runtime: Runtime) -> None:
    name = await chosen_model(runtime)
    runtime[EMBEDDER] = await asyncio.to_thread(registry.load_embedder, runtime.config, name)
    runtime.features.add("search")
    runtime.features.add("embedding")
    runtime[EMBED_WAKEUP] = asyncio.Event()
    if not runtime.worker_process:
        runtime[LOOP] = asyncio.create_task(_loop(runtime), name="foredeck-embed-loop")
        listener = runtime[LISTENER] = _settings_listener(runtime)
        settings_service.change_listeners.append(listener)
    log.info("embedding_ready", model=name, dimension=runtime[EMBEDDER].dimension)


def _settings_listener(runtime: Runtime) -> Callable[[str], None]:
    def changed(section: str) -> None:
        if section == "embedding":
            runtime[EMBED_WAKEUP].set()

    return changed


async def shutdown(runtime: Runtime) -> None:
    listener = runtime.pop(LISTENER)
    if listener is not None and listener in settings_service.change_listeners:
        settings_service.change_listeners.remove(listener)
    await stop_tasks(runtime.pop(LOOP))
