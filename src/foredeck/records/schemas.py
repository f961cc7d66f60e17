"""Contracts of the records ("memories") endpoints."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, Field

from foredeck.kit.schemas import ReadModel, StrictBody

MAX_CONTENT_CHARS = 100_000
COLLECTION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


class MemoryType(StrEnum):
    note = "note"
    fact = "fact"
    conversation = "conversation"
    document = "document"
    message = "message"
    task = "task"
    event = "event"
    other = "other"


class EmbeddingState(StrEnum):
    pending = "pending"
    embedded = "embedded"
    failed = "failed"


class MemoryCreate(StrictBody):
    content: str = Field(min_length=1, max_length=MAX_CONTENT_CHARS)
    memory_type: MemoryType = MemoryType.note
    collection: str = Field(default="default", pattern=COLLECTION_PATTERN)
    metadata: dict[str, Any] = Field(default_factory=dict)
    external_id: str | None = Field(default=None, min_length=1, max_length=256)


class MemoryUpdate(StrictBody):
    content: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT_CHARS)
    memory_type: MemoryType | None = None
    collection: str | None = Field(default=None, pattern=COLLECTION_PATTERN)
    metadata: dict[str, Any] | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=256)


class MemoryOut(ReadModel):
    id: int
    content: str
    memory_type: str
    collection: str
    # The ORM attribute is `metadata_` (`metadata` is SQLAlchemy's own); the API's JSON says
    # `metadata`, and the client validates that JSON with this same model.
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    external_id: str | None
    content_hash: str
    owner_id: int | None
    embedding_state: EmbeddingState
    embedding_error: str | None
    embedded_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MemorySort(StrEnum):
    created_at = "created_at"
    created_at_desc = "-created_at"
    updated_at = "updated_at"
    updated_at_desc = "-updated_at"
    id = "id"
    id_desc = "-id"
