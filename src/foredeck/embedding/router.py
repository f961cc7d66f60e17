"""HTTP routes of the embedding domain: the model registry and the pipeline's state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from foredeck.auth.deps import Operator, Viewer
from foredeck.embedding import registry
from foredeck.embedding import service as embedding_service
from foredeck.embedding.schemas import AvailableModel, EmbeddingStatus, RetryResult
from foredeck.kit.deps import SessionDep
from foredeck.kit.envelope import Envelope, ok
from foredeck.records import service as records_service

router = APIRouter(tags=["embedding"])


@router.get("/api/v1/available_models", response_model=Envelope[list[AvailableModel]])
async def available_models(request: Request, _: Viewer) -> Any:
    """The embedding model registry: name, provider, dimension, max tokens, installed."""
    state = request.app.state
    active = state.embedder.name
    return ok(
        [
            AvailableModel(**m.as_dict(), active=m.name == active)
            for m in registry.available_models(state.config)
        ]
    )


@router.get("/api/v1/embedding", response_model=Envelope[EmbeddingStatus])
async def embedding_status(request: Request, _: Viewer, session: SessionDep) -> Any:
    """The active model and the pipeline's queue: pending, due, embedded, failed."""
    embedder = request.app.state.embedder
    info = registry.model_info(request.app.state.config, embedder.name)
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
async def retry_failed(request: Request, _: Operator, session: SessionDep) -> Any:
    """Queue every failed record again now, with a fresh attempt count."""
    requeued = await embedding_service.retry_failed(session)
    request.app.state.embed_wakeup.set()
    return ok(RetryResult(requeued=requeued))
