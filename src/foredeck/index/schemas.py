"""Contracts of the index, snapshot, search and RAG endpoints."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from foredeck.kit.schemas import StrictBody
from foredeck.records.schemas import COLLECTION_PATTERN, MemoryOut, MemoryType

MAX_QUERY_CHARS = 1_000
MAX_K = 100


class SearchMode(StrEnum):
    semantic = "semantic"
    keyword = "keyword"
    hybrid = "hybrid"


class SearchRequest(StrictBody):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    mode: SearchMode = SearchMode.hybrid
    k: int = Field(default=10, ge=1, le=MAX_K)
    collection: str | None = Field(default=None, pattern=COLLECTION_PATTERN)
    memory_type: MemoryType | None = None
    metadata: dict[str, str | int | float | bool] = Field(default_factory=dict)
    created_after: datetime | None = None
    created_before: datetime | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        return check_query(value)


def check_query(value: str) -> str:
    """Refuse a query that no mode could answer sensibly; the error says why."""
    if not value.strip():
        raise ValueError("The query must contain more than whitespace")
    if "\x00" in value:
        raise ValueError("The query must not contain NUL characters")
    if not any(c.isalnum() for c in value):
        # Only punctuation or symbols ("*", '"', "-", ":"): nothing to match, and the nearest
        # neighbours of a lone symbol's embedding would be noise presented as an answer.
        raise ValueError("The query must contain at least one letter or digit")
    return value


class SearchHit(StrictBody):
    rank: int
    score: float
    semantic_score: float | None = None
    keyword_score: float | None = None
    semantic_rank: int | None = Field(
        default=None, description="1-based place in the semantic list; null: not in it"
    )
    keyword_rank: int | None = Field(
        default=None, description="1-based place in the keyword list; null: not in it"
    )
    keyword_match: str | None = Field(
        default=None,
        description="How the keyword list matched: all (every word), identifiers (every "
        "identifier as an exact phrase), any (some words); null: not a keyword match",
    )
    highlights: list[str]
    memory: MemoryOut


class SearchResult(StrictBody):
    query: str
    mode: SearchMode
    k: int
    model: str
    took_ms: float
    hits: list[SearchHit]


class IndexStats(StrictBody):
    name: str
    # ready, rebuilding, loading_model (this process is loading target_model) or reembedding
    # (records are being embedded with the new model; searches use search_model meanwhile).
    status: str
    index_type: str
    model: str
    search_model: str = Field(description="The model answering searches right now")
    target_model: str | None = Field(default=None, description="The model being loaded")
    model_error: str | None = Field(default=None, description="Why the last switch failed")
    dimension: int
    vector_count: int
    tombstones: int
    pending_count: int
    failed_count: int
    bytes_on_disk: int
    checksum: str | None
    generation: int
    last_rebuild_at: datetime | None
    last_rebuild_seconds: float | None
    hnsw_threshold: int
    path: str


class RagIndex(StrictBody):
    name: str
    kind: str
    model: str
    dimension: int
    index_type: str
    vector_count: int
    status: str
    collections: dict[str, int]
    stats: IndexStats


class RestoreResult(StrictBody):
    restored: bool
    manifest: dict[str, Any]
    stats: IndexStats
