"""Typed settings sections and the contracts of the settings endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SECTION_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


class Section(BaseModel):
    """A settings section: unknown fields are refused so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CredentialsSettings(Section):
    """Where the Google service-account key file is; the key itself never leaves the disk."""

    path: str | None = Field(
        default=None,
        max_length=512,
        description="A file inside the managed credentials directory (relative or absolute)",
    )


class SheetRef(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    spreadsheet_id: str = Field(pattern=r"^[A-Za-z0-9_-]{8,128}$")
    range: str = Field(default="Sheet1", min_length=1, max_length=256)


class SheetsSettings(Section):
    """Google Sheets the operations may read and write, and the API endpoints to use."""

    api_base_url: str = Field(default="https://sheets.googleapis.com", max_length=512)
    token_url: str = Field(default="https://oauth2.googleapis.com/token", max_length=512)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    sheets: list[SheetRef] = Field(default_factory=list, max_length=100)

    @field_validator("api_base_url", "token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/") if value.count("/") > 2 else value

    @field_validator("sheets")
    @classmethod
    def _unique_names(cls, value: list[SheetRef]) -> list[SheetRef]:
        names = [s.name for s in value]
        if len(names) != len(set(names)):
            raise ValueError("sheet names must be unique")
        return value


class EmbeddingSettings(Section):
    """Which embedding model the pipeline uses; the name must be in the model registry."""

    model: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        description="A registry name; None means the server default (FOREDECK_EMBEDDING_MODEL)",
    )
    batch_size: int = Field(default=64, ge=1, le=4096)


class IndexSettings(Section):
    """The vector index type and when the automatic choice switches to an approximate index."""

    type: Literal["auto", "flat", "hnsw"] = "auto"
    hnsw_threshold: int = Field(default=50_000, ge=0, description="auto: HNSW from this size")
    hnsw_m: int = Field(default=32, ge=4, le=128)
    ef_construction: int = Field(default=80, ge=8, le=1024)
    ef_search: int = Field(default=64, ge=1, le=4096)
    rebuild_after_changes: int = Field(default=10_000, ge=0)


def _default_concurrency() -> dict[str, int]:
    return {"default": 2, "operations": 1, "embedding": 1, "generator": 1}


class WorkersSettings(Section):
    """How many jobs each queue runs at once per worker process."""

    concurrency: dict[str, int] = Field(default_factory=_default_concurrency)

    @field_validator("concurrency")
    @classmethod
    def _sane(cls, value: dict[str, int]) -> dict[str, int]:
        for role, n in value.items():
            if not role or len(role) > 64 or not role.replace("_", "").isalnum():
                raise ValueError(f"queue name {role!r} is not valid")
            if not 0 <= n <= 64:
                raise ValueError(f"concurrency of {role!r} must be between 0 and 64")
        return value


class RetentionSettings(Section):
    """How long telemetry, export files and finished jobs are kept."""

    telemetry_hours: int = Field(default=24, ge=1, le=24 * 365)
    export_days: int = Field(default=7, ge=1, le=3650)
    job_days: int = Field(default=30, ge=1, le=3650)


class GeneratorSettings(Section):
    """LLM endpoint metadata; an API key, if any, is a file in the credentials directory."""

    provider: Literal["none", "openai", "gemini"] = "none"
    base_url: str | None = Field(default=None, max_length=512)
    model: str | None = Field(default=None, max_length=256)
    api_key_path: str | None = Field(default=None, max_length=512)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    max_output_tokens: int = Field(default=4096, ge=1, le=1_000_000)
    max_rows: int = Field(
        default=10_000_000, ge=1, le=1_000_000_000, description="Largest dataset a job may make"
    )
    max_chunk_size: int = Field(
        default=1_000_000, ge=1, le=10_000_000, description="Largest chunk a job may use"
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class OperationsSettings(Section):
    """Import and export limits, and whether URL imports may reach private addresses."""

    allow_private_urls: bool = Field(
        default=False, description="Allow URL imports from loopback, private and link-local hosts"
    )
    url_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    max_url_bytes: int = Field(default=10 * 1024**3, ge=1024)
    max_row_errors: int = Field(default=1000, ge=0, le=1_000_000)
    max_error_ratio: float = Field(default=0.1, ge=0, le=1)
    batch_size: int = Field(default=20_000, ge=100, le=500_000)


SECTIONS: dict[str, type[Section]] = {
    "credentials": CredentialsSettings,
    "sheets": SheetsSettings,
    "embedding": EmbeddingSettings,
    "index": IndexSettings,
    "workers": WorkersSettings,
    "retention": RetentionSettings,
    "generator": GeneratorSettings,
    "operations": OperationsSettings,
}

SectionName = Literal[
    "credentials",
    "sheets",
    "embedding",
    "index",
    "workers",
    "retention",
    "generator",
    "operations",
]


class FieldError(BaseModel):
    field: str
    message: str


class ValidationResult(BaseModel):
    valid: bool
    errors: list[FieldError] = Field(default_factory=list)
    # Facts found while validating that are safe to show (never a secret).
    info: dict[str, Any] = Field(default_factory=dict)


class SectionOut(BaseModel):
    section: str
    value: dict[str, Any]
    configured: bool = Field(description="False while the section still has its defaults")
    valid: bool = Field(description="Whether the section passes its checks right now")
    errors: list[FieldError] = Field(default_factory=list)
    info: dict[str, Any] = Field(default_factory=dict)
    checksum: str | None = None
    validated_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    notes: str | None = None


class SettingsOut(BaseModel):
    sections: dict[str, SectionOut]
    valid: bool
    config_imported_at: datetime | None = None


class ImportConfigReport(BaseModel):
    source: list[str]
    imported: list[str]
    skipped: dict[str, str]
    already_done: bool = False
