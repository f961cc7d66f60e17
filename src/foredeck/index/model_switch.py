"""A change of embedding model, applied while the server runs.

Every process ends up on the model `index_state.model` names, by one of two roads:

- *lead*: a serving process that sees the stored `embedding` settings name another model (its
  embed loop compares the section's checksum on every poll; a PUT wakes the loop at once)
  loads the model in a thread, then under the `index` lock runs the start-up check
  (`index_service.align_model`: fresh index for the new model and dimension, every record back
  to pending, status `reembedding`) and swaps the model in;
- *follow*: a process whose index sync or embed batch finds `index_state.model` changed by
  someone else loads that model and swaps it in, touching nothing in the database.

Until the new model is loaded nothing changes here: the old model and index keep serving. A
load failure leaves them in place and is reported (`GET /api/v1/index`, `model_error`).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from foredeck.db import transaction
from foredeck.embedding import registry
from foredeck.embedding.parts import EMBED_WAKEUP, EMBEDDER
from foredeck.errors import AppError, ServiceUnavailable
from foredeck.index import service as index_service
from foredeck.index.manager import NAME
from foredeck.index.parts import INDEX_MANAGER, MODEL_SWITCH
from foredeck.kit.runtime import Runtime
from foredeck.kit.tasks import stop_tasks
from foredeck.logging import get_logger
from foredeck.models.index import IndexState
from foredeck.models.settings import Setting

log = get_logger(__name__)
LOCK_RETRY_SECONDS = 1.0
# A follower does not retry loading a model that just failed more often than this.
FOLLOW_RETRY_SECONDS = 30.0


@dataclass
class SwitchStatus:
    """This process's view of a model switch, shown by the index stats."""

    target: str | None = None
    error: str | None = None
    failed_model: str | None = None
    failed_at: float = 0.0
    settings_checksum: str | None = None
    task: asyncio.Task[bool] | None = None


def switch_status(runtime: Runtime) -> SwitchStatus:
    status = runtime.get(MODEL_SWITCH)
    if status is None:
        status = runtime[MODEL_SWITCH] = SwitchStatus()
    return status  # type: ignore[no-any-return]


async def watch_settings(runtime: Runtime) -> None:
    """Lead a switch when the stored embedding settings changed to name another model."""
    status = switch_status(runtime)
    async with runtime.sessionmaker() as session:
        checksum = await session.scalar(select(Setting.checksum).where(Setting.key == "embedding"))
    if checksum == status.settings_checksum:
        return
    status.settings_checksum = checksum
    from foredeck.embedding.lifecycle import chosen_model

    model = await chosen_model(runtime)
    running = status.task is not None and not status.task.done()
    if model == runtime[INDEX_MANAGER].model and not running:
        # Saved back to the model in use: a failed switch before it no longer matters.
        status.error = status.failed_model = None
        return
    # Queued behind a switch still running, so the last saved model wins.
    request(runtime, model, lead=True)


def request(runtime: Runtime, model: str, *, lead: bool) -> asyncio.Task[bool] | None:
    """Start switching this process to model (one switch at a time, in order of request)."""
    status = switch_status(runtime)
    running = status.task if status.task is not None and not status.task.done() else None
    if running is not None and status.target == model:
        return running
    recently_failed = time.monotonic() - status.failed_at < FOLLOW_RETRY_SECONDS
    if not lead and status.failed_model == model and recently_failed:
        return None
    status.target = model
    # A context of its own: the switch outlives the request that may have started it.
    status.task = asyncio.create_task(
        _switch(runtime, model, lead=lead, after=running),
        name="foredeck-model-switch",
        context=contextvars.Context(),
    )
    return status.task


async def _switch(
    runtime: Runtime, model: str, *, lead: bool, after: asyncio.Task[bool] | None
) -> bool:
    status = switch_status(runtime)
    if after is not None:
        await asyncio.gather(after, return_exceptions=True)
        status.target = model
    try:
        if model == runtime[INDEX_MANAGER].model:
            return True
        log.info("embedding_model_loading", model=model, lead=lead)
        try:
            embedder = await asyncio.to_thread(registry.load_embedder, runtime.config, model)
        except Exception as exc:
            message = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}"
            status.error = f"The model {model} could not be loaded: {message}"[:1000]
            status.failed_model, status.failed_at = model, time.monotonic()
            log.error("embedding_model_load_failed", model=model, error=message[:500])
            return False
        if lead:
            await _lead(runtime, embedder)
        else:
            await _adopt(runtime, embedder)
        status.error = status.failed_model = None
        return True
    except Exception:
        log.exception("embedding_model_switch_failed", model=model)
        raise
    finally:
        if status.task is None or status.task is asyncio.current_task():
            status.target = None


async def _lead(runtime: Runtime, embedder: Any) -> None:
    """Align the stored index with the new model under the index lock, then swap it in."""
    from foredeck.jobs.locks import LockHeld, operation_lock

    holder = f"model-switch:{uuid.uuid4().hex[:8]}"
    while True:
        try:
            async with operation_lock(runtime, "index", holder=holder):
                async with transaction(runtime.sessionmaker) as session:
                    await index_service.align_model(
                        session, runtime, model=embedder.name, dimension=embedder.dimension
                    )
                # Committed first: _adopt reads the row back, and other processes follow it.
                await _adopt(runtime, embedder)
            return
        except LockHeld:
            # A rebuild or restore of the old model's index is running: wait for it to end.
            await asyncio.sleep(LOCK_RETRY_SECONDS)


async def _adopt(runtime: Runtime, embedder: Any) -> bool:
    """Swap embedder in here if index_state names its model (a later switch may have won)."""
    manager = runtime[INDEX_MANAGER]
    async with runtime.sessionmaker() as session:
        row = await session.get(IndexState, NAME)
    if row is not None and row.model and row.model != embedder.name:
        return False
    reembedding = row is not None and row.status == index_service.REEMBEDDING
    await manager.use_model(embedder, keep_previous=reembedding)
    runtime[EMBEDDER] = embedder
    await manager.sync(runtime.sessionmaker, force=True)
    wakeup = runtime.get(EMBED_WAKEUP)
    if wakeup is not None:
        wakeup.set()
    log.info("embedding_model_switched", model=embedder.name, dimension=embedder.dimension)
    return True


async def follow_live_model(runtime: Runtime) -> None:
    """Before an embed batch: load the model index_state names when this process has another.

    Raises ServiceUnavailable when it cannot be loaded, so no vector of the wrong model is
    stored for the records the batch would claim."""
    async with runtime.sessionmaker() as session:
        live = await session.scalar(select(IndexState.model).where(IndexState.name == NAME))
    if not live or live == runtime[EMBEDDER].name:
        return
    task = request(runtime, live, lead=False)
    if task is not None:
        await asyncio.gather(asyncio.shield(task), return_exceptions=True)
    if runtime[EMBEDDER].name != live:
        raise ServiceUnavailable(
            f"The embedding model changed to {live}, which this process could not load: "
            f"{switch_status(runtime).error or 'unknown error'}",
            code="EMBEDDING_MODEL_UNAVAILABLE",
        )


async def shutdown(runtime: Runtime) -> None:
    status = runtime.get(MODEL_SWITCH)
    if status is not None and status.task is not None:
        await stop_tasks(status.task)
