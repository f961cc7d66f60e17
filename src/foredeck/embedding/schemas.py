"""Contracts of the embedding endpoints."""

from __future__ import annotations

from pydantic import BaseModel


class AvailableModel(BaseModel):
    name: str
    provider: str
    dimension: int
    max_tokens: int
    installed: bool
    active: bool
    description: str


class EmbeddingStatus(BaseModel):
    model: str
    provider: str
    dimension: int
    pending: int
    due: int
    embedded: int
    failed: int
    cached_vectors: int


class RetryResult(BaseModel):
    requeued: int
