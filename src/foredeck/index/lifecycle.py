"""Start-up of the index domain: load the live index, hook record deletes, keep it fed."""

from __future__ import annotations

from foredeck.db import transaction
from foredeck.embedding.parts import EMBEDDER
from foredeck.index import feeding, model_switch
from foredeck.index import service as index_service
from foredeck.index.manager import IndexManager
from foredeck.index.parts import INDEX_MANAGER
from foredeck.kit.runtime import Runtime
from foredeck.records import service as records_service


async def startup(runtime: Runtime) -> None:
    embedder = runtime[EMBEDDER]
    manager = IndexManager(runtime.config, model=embedder.name, dimension=embedder.dimension)
    manager.embedder = embedder
    runtime[INDEX_MANAGER] = manager
    index_service.register_manager(manager)
    # Another process switched the model: load it here too (see model_switch).
    manager.on_model_change = lambda model: model_switch.request(runtime, model, lead=False)
    async with transaction(runtime.sessionmaker) as session:
        await index_service.align_model(session, runtime)
    await manager.sync(runtime.sessionmaker, force=True)
    if index_service.remove_deleted not in records_service.delete_hooks:
        records_service.delete_hooks.append(index_service.remove_deleted)
    runtime.features.add("vector_index")
    runtime.health_checks["vector_index"] = _health
    feeding.start(runtime)


async def _health(runtime: Runtime) -> str:
    """`ready` with the live vector count; the index works during rebuilds and restores."""
    manager = runtime[INDEX_MANAGER]
    return f"ready ({manager.vindex.count} vectors, {manager.vindex.kind}, {manager.model})"


async def shutdown(runtime: Runtime) -> None:
    # The loop first: it is what starts a model switch.
    await feeding.stop(runtime)
    await model_switch.shutdown(runtime)
