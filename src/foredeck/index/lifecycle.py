"""Start-up of the index domain: load the live index, hook record deletes, keep it fed."""

from __future__ import annotations

from fastapi import FastAPI

from foredeck.index import feeding, model_switch
from foredeck.index import service as index_service
from foredeck.index.manager import IndexManager
from foredeck.records import service as records_service


async def startup(app: FastAPI) -> None:
    state = app.state
    embedder = state.embedder
    manager = IndexManager(state.config, model=embedder.name, dimension=embedder.dimension)
    manager.embedder = embedder
    state.index_manager = manager
    index_service.register_manager(manager)
    # Another process switched the model: load it here too (see model_switch).
    manager.on_model_change = lambda model: model_switch.request(state, model, lead=False)
    await index_service.align_model(state)
    await manager.sync(state.sessionmaker, force=True)
    if index_service.remove_deleted not in records_service.delete_hooks:
        records_service.delete_hooks.append(index_service.remove_deleted)
    state.features.add("vector_index")
    state.health_checks["vector_index"] = _health
    feeding.start(app)


async def _health(app: FastAPI) -> str:
    """`ready` with the live vector count; the index works during rebuilds and restores."""
    manager = app.state.index_manager
    return f"ready ({manager.vindex.count} vectors, {manager.vindex.kind}, {manager.model})"


async def shutdown(app: FastAPI) -> None:
    # The loop first: it is what starts a model switch.
    await feeding.stop(app)
    await model_switch.shutdown(app.state)
