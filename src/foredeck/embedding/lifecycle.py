"""Start-up of the embedding domain: load the model the settings (or the process) choose.

The loop that keeps an `embed` job coming, and the job itself, feed the index: they are the
index domain's (`foredeck.index.feeding`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from foredeck.embedding import registry
from foredeck.errors import AppError
from foredeck.logging import get_logger
from foredeck.settings import service as settings_service

log = get_logger(__name__)


async def chosen_model(state: Any) -> str:
    """The operator's setting (DB) when valid, else the process default."""
    config = state.config
    try:
        async with state.sessionmaker() as session:
            section = await settings_service.get_section(session, "embedding")
        if section.model:
            registry.model_info(config, section.model)
            return section.model
    except AppError as exc:
        log.error("embedding_setting_unusable", error=exc.message)
    return registry.default_model(config)


async def startup(app: FastAPI) -> None:
    state = app.state
    name = await chosen_model(state)
    state.embedder = await asyncio.to_thread(registry.load_embedder, state.config, name)
    state.features.add("search")
    state.features.add("embedding")
    # Set when records become due; the index's embed loop waits on it (index.feeding).
    state.embed_wakeup = asyncio.Event()
    log.info("embedding_ready", model=name, dimension=state.embedder.dimension)


async def shutdown(app: FastAPI) -> None:
    """Nothing runs here to stop: the embed loop is the index's."""
