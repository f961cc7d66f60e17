"""Contracts of the import / export operations (request bodies double as job params)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from foredeck.kit.schemas import StrictBody
from foredeck.records.schemas import COLLECTION_PATTERN, EmbeddingState, MemoryType

ImportFormat = Literal["auto", "csv", "json", "jsonl", "parquet"]
ImportMode = Literal["upsert", "append", "replace"]
ExportFormat = Literal["csv", "jsonl", "parquet", "sheet"]
OperationKind = Literal["import", "export", "index"]


class ColumnMapping(StrictBody):
    """Which source column feeds which record field; unset fields are matched by name."""

    content: str | None = Field(default=None, description="Default: content, text or body")
    external_id: str | None = Field(default=None, description="Default: external_id if present")
    memory_type: str | None = Field(default=None, description="Default: memory_type if present")
    metadata: list[str] | Literal["*"] | None = Field(
        default=None, description='Columns gathered into metadata; "*" = every unmapped column'
    )
    metadata_json: str | None = Field(
        default=None, description="A column holding a JSON object (default: metadata if present)"
    )
    default_memory_type: MemoryType = MemoryType.note


class ImportParams(StrictBody):
    """Where to read from, how to map it, and how to merge it into the collection."""

    source: Literal["file", "url", "sheet"] = "file"
    path: str | None = Field(
        default=None, max_length=1024, description="source=file: a path inside the import directory"
    )
    url: str | None = Field(default=None, max_length=4096, description="source=url: http(s) only")
    sheet: str | None = Field(
        default=None, max_length=64, description="source=sheet: a sheet name from the settings"
    )
    spreadsheet_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,128}$")
    range: str | None = Field(default=None, max_length=256)
    format: ImportFormat = "auto"
    encoding: str | None = Field(default=None, max_length=64)
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    collection: str = Field(default="default", pattern=COLLECTION_PATTERN)
    mode: ImportMode = "upsert"
    mapping: ColumnMapping = Field(default_factory=ColumnMapping)
    max_error_ratio: float | None = Field(default=None, ge=0, le=1)
    # Set by the server for uploads, so the upload is removed once the import has run.
    delete_after: bool = False
    original_name: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _source_fields(self) -> ImportParams:
        if self.source == "file" and not self.path:
            raise ValueError("source=file needs path (or upload a file)")
        if self.source == "url" and not self.url:
            raise ValueError("source=url needs url")
        if self.source == "sheet" and not (self.sheet or self.spreadsheet_id):
            raise ValueError("source=sheet needs sheet (a configured name) or spreadsheet_id")
        return self


class ExportParams(StrictBody):
    """What to export (a collection or a filter) and where to."""

    format: ExportFormat = "jsonl"
    collection: str | None = Field(default=None, pattern=COLLECTION_PATTERN)
    memory_type: MemoryType | None = None
    embedding_state: EmbeddingState | None = None
    owner_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    q: str | None = Field(default=None, min_length=1, max_length=500)
    metadata: dict[str, str] | None = None
    sheet: str | None = Field(default=None, max_length=64)
    spreadsheet_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,128}$")
    range: str | None = Field(default=None, max_length=256)
    include_embedding_state: bool = True

    @model_validator(mode="after")
    def _sheet_target(self) -> ExportParams:
        if self.format == "sheet" and not (self.sheet or self.spreadsheet_id):
            raise ValueError("format=sheet needs sheet (a configured name) or spreadsheet_id")
        return self

    @field_validator("metadata")
    @classmethod
    def _few(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None and len(value) > 20:
            raise ValueError("at most 20 metadata filters")
        return value

    def filters(self) -> dict[str, Any]:
        """Keyword arguments for records_service.filtered_query."""
        return {
            "collection": self.collection,
            "memory_type": self.memory_type.value if self.memory_type else None,
            "embedding_state": self.embedding_state.value if self.embedding_state else None,
            "owner_id": self.owner_id,
            "created_after": self.created_after,
            "created_before": self.created_before,
            "q": self.q,
            "metadata": self.metadata,
        }


class RowErrorOut(StrictBody):
    row: int
    reason: str


class ImportResult(StrictBody):
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    skipped: int
    duplicates: int
    deleted: int
    errors: list[RowErrorOut]
    errors_truncated: bool
    collection: str
    mode: ImportMode
    format: str
    seconds: float


class PreviewRow(StrictBody):
    row: int
    content: str | None = None
    memory_type: str | None = None
    external_id: str | None = None
    metadata: dict[str, Any] | None = None
    error: str | None = None


class ImportPreview(StrictBody):
    columns: list[str]
    format: str
    total_rows: int | None
    mapping: dict[str, Any]
    rows: list[PreviewRow]


class JobRef(StrictBody):
    job_id: str
    kind: str
    status: str
    status_url: str
    events_url: str
    download_url: str | None = None


class LockOut(StrictBody):
    name: str
    held: bool
    holder_job_id: str | None = None
    holder: str | None = None
    acquired_at: datetime | None = None
    expires_at: datetime | None = None


class RunSummary(StrictBody):
    job_id: str
    status: str
    outcome: str
    started_at: datetime | None
    finished_at: datetime | None
    duration_s: float | None
    initiated_by: str | None
    progress_percent: float | None
    progress_message: str | None
    counters: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None


class OperationStatus(StrictBody):
    operation: OperationKind
    kinds: list[str]
    lock: LockOut
    running: bool
    latest: RunSummary | None
    last_finished: RunSummary | None
