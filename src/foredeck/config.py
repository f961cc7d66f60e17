"""Process configuration: environment variables with the FOREDECK_ prefix, embedded defaults."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "foredeck", "placeholder", ""}


class Environment(StrEnum):
    development = "development"
    staging = "staging"
    production = "production"


class Config(BaseSettings):
    """Everything a process needs to start; operator settings live in the database instead."""

    model_config = SettingsConfigDict(env_prefix="FOREDECK_", env_file=None, extra="ignore")

    environment: Environment = Environment.development
    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None

    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=list)
    log_format: Literal["console", "json"] | None = None
    log_level: str = "INFO"
    # One line per request (health probes and /metrics at debug level).
    access_log: bool = True

    default_page_size: int = Field(default=20, ge=1)
    max_page_size: int = Field(default=200, ge=1)

    rate_limit_enabled: bool = True
    rate_limit_default: str = "600/minute"
    # Per-endpoint overrides: "METHOD /path" -> limit string.
    rate_limits: dict[str, str] = Field(
        default_factory=lambda: {"POST /api/v1/auth/token": "20/minute"}
    )

    token_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1024)

    trusted_header_auth: bool = False
    trusted_header_name: str = "X-Telegram-ID"

    # Embedded worker pool size (jobs claimed from the database inside `foredeck serve`).
    workers: int = Field(default=4, ge=0)
    # Apply migrations at start-up (replicas serialise on a lock, so this is safe to leave on).
    auto_migrate: bool = True
    # Embedding model name from the registry (None: MiniLM when installed, else the static model).
    embedding_model: str | None = None
    embedding_batch_size: int = Field(default=256, ge=1, le=10_000)
    embedding_max_attempts: int = Field(default=5, ge=1)
    embedding_retry_seconds: float = Field(default=30.0, ge=0)
    embedding_poll_seconds: float = Field(default=2.0, gt=0)
    # An OpenAI-compatible embeddings API; the key is read from a file, never stored in the DB.
    embedding_api_url: str | None = None
    embedding_api_model: str = "text-embedding-3-small"
    embedding_api_key_file: Path | None = None
    embedding_api_dimension: int = Field(default=1536, ge=1)
    # FAISS: exact search below the threshold, HNSW above it.
    index_hnsw_threshold: int = Field(default=50_000, ge=1)
    index_hnsw_m: int = Field(default=32, ge=4, le=256)
    index_hnsw_ef_construction: int = Field(default=80, ge=8)
    index_hnsw_ef_search: int = Field(default=128, ge=8)
    index_checkpoint_every: int = Field(default=5_000, ge=1)
    index_sync_seconds: float = Field(default=1.0, ge=0)
    index_snapshot_max_bytes: int = Field(default=4 * 1024**3, ge=1024)
    # Schedules: how often each serving process looks for due fires, how late a fire may be
    # and still count as on time, and the shortest gap between fires an operator may set.
    schedule_tick_seconds: float = Field(default=5.0, gt=0)
    schedule_misfire_grace_seconds: float = Field(default=60.0, ge=0)
    schedule_min_interval_seconds: int = Field(default=60, ge=1)
    config_file: Path | None = None
    # Where uploads, export files and index checkpoints live: `local` (the data dir, for one
    # machine) or `s3` (any S3-compatible object store, so scale-out needs no shared folder).
    blob_store: Literal["local", "s3"] = "local"
    s3_endpoint_url: str | None = None
    s3_bucket: str | None = None
    s3_region: str | None = None
    s3_prefix: str = ""
    # Unset: boto3's own chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, roles).
    s3_access_key_id: str | None = None
    s3_secret_access_key_file: Path | None = None
    s3_addressing_style: Literal["auto", "path", "virtual"] = "path"
    s3_connect_timeout_s: float = Field(default=3.0, gt=0)
    s3_read_timeout_s: float = Field(default=20.0, gt=0)
    # > 0: downloads answer 307 to a presigned URL valid this long instead of streaming.
    s3_presign_seconds: int = Field(default=0, ge=0, le=7 * 86400)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.startswith("["):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _refuse_placeholders(self) -> Config:
        if self.environment != Environment.development:
            if self.secret_key is None or self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    "FOREDECK_SECRET_KEY must be set to a real secret outside development"
                )
            if len(self.secret_key) < 32:
                raise ValueError("FOREDECK_SECRET_KEY must be at least 32 characters")
        return self

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: one process, in-process workers."""
        return not self.redis_url

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'foredeck.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        # From the URL alone: resolving the data dir's path is a syscall, and the job engine
        # asks on every write.
        return not self.database_url or self.database_url.startswith("sqlite")

    @property
    def effective_log_format(self) -> str:
        if self.log_format:
            return self.log_format
        return "console" if self.environment == Environment.development else "json"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The signing key; in development one is made once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key

    def path(self, *parts: str) -> Path:
        """A folder under the data dir, created on first use."""
        target = self.data_dir.joinpath(*parts)
        target.mkdir(parents=True, exist_ok=True)
        return target
