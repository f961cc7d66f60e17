"""HTTP routes of the embedding domain: the model registry and the pipeline's runtime."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from foredeck.auth.deps import Operator, Viewer
from foredeck.embedding import registry
from foredeck.embedding import service as embedding_service
from foredeck.embedding.parts import EMBED_WAKEUP, EMBEDDER
from foredeck.embedding.schemas import AvailableModel, EmbeddingStatus, RetryResult
from foredeck.kit.deps import SessionDep
from foredeck.kit.envelope import Envelope, ok
from foredeck.kit.runtime import RuntimeDep
from foredeck.records import service as records_service

router = APIRouter(tags=["embedding"])


@router.get("/api/v1/available_models", response_model=Envelope[list[AvailableModel]])
async def available_models(runtime: RuntimeDep, _: Viewer) -> Any:
    """The embedding model registry: name, provider, dimension, max tokens, installed."""
    active = runtime[EMBEDDER].name
    return ok(
        [
            AvailableModel(**m.as_dict(), active=m.name == active)
            for m in registry.available_models(runtime.config)
        ]
    )


@router.get("/api/v1/embedding", response_model=Envelope[EmbeddingStatus])
async def embedding_status(runtime: RuntimeDep, _: Viewer, session: SessionDep) -> Any:
    """The active model and the pipeline's queue: pending, due, embedded, failed."""
    embedder = runtime[EMBEDDER]
    info = registry.model_info(runtime.config, embedder.name)
    counts = await records_service.counts_by_state(session)
    return ok(
        EmbeddingStatus(
            model=embedder.name,
            provider=info.provider,
            dimension=embedder.dimension,
            pending=counts["pending"],
            due=await embedding_service.due_count(session),
            embedded=counts["embedded"],
            failed=counts["failed"],
            cached_vectors=await embedding_service.cache_size(session, embedder.name),
        )
    )


@router.post("/api/v1/embedding/retry", response_model=Envelope[RetryResult])
async def retry_failed(runtime: RuntimeDep, _: Operator, session: SessionDep) -> Any:
    """Queue every failed record again now, with a fresh attempt count."""
    requeued = await embedding_service.retry_failed(session)
    runtime[EMBED_WAKEUP].set()
    return ok(RetryResult(requeued=requeued))
