"""Start-up of the embedding domain: load the model the settings (or the process) choose.

The loop that keeps an `embed` job coming, and the job itself, feed the index: they are the
index domain's (`foredeck.index.feeding`).
"""

from __future__ import annotations

import asyncio

from foredeck.embedding import registry
from foredeck.embedding.parts import EMBED_WAKEUP, EMBEDDER
from foredeck.errors import AppError
from foredeck.kit.runtime import Runtime
from foredeck.logging import get_logger
from foredeck.settings import service as settings_service

log = get_logger(__name__)


async def chosen_model(runtime: Runtime) -> str:
    """The operator's setting (DB) when valid, else the process default."""
    config = runtime.config
    try:
        async with runtime.sessionmaker() as session:
            section = await settings_service.get_section(session, "embedding")
        if section.model:
            registry.model_info(config, section.model)
            return section.model
    except AppError as exc:
        log.error("embedding_setting_unusable", error=exc.message)
    return registry.default_model(config)


async def startup(runtime: Runtime) -> None:
    name = await chosen_model(runtime)
    embedder = runtime[EMBEDDER] = await asyncio.to_thread(
        registry.load_embedder, runtime.config, name
    )
    runtime.features.add("search")
    runtime.features.add("embedding")
    # Set when records become due; the index's embed loop waits on it (index.feeding).
    runtime[EMBED_WAKEUP] = asyncio.Event()
    log.info("embedding_ready", model=name, dimension=embedder.dimension)


async def shutdown(runtime: Runtime) -> None:
    """Nothing runs here to stop: the embed loop is the index's."""
