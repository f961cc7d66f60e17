"""The dataset schema (the `generate` job's params) and the generator's API contracts."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from foredeck.kit.schemas import StrictBody
from foredeck.records.schemas import COLLECTION_PATTERN

FIELD_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
MAX_FIELDS = 200


class FieldType(StrEnum):
    string = "string"
    text = "text"
    lorem = "lorem"
    integer = "integer"
    float = "float"
    decimal = "decimal"
    boolean = "boolean"
    date = "date"
    datetime = "datetime"
    uuid = "uuid"
    email = "email"
    name = "name"
    first_name = "first_name"
    last_name = "last_name"
    phone = "phone"
    address = "address"
    city = "city"
    country = "country"
    company = "company"
    job_title = "job_title"
    url = "url"
    username = "username"
    ip_address = "ip_address"
    user_agent = "user_agent"
    airport = "airport"
    currency = "currency"
    color = "color"
    car_make = "car_make"
    car_model = "car_model"
    country_code = "country_code"
    postal_code = "postal_code"
    state = "state"
    title_ = "title"  # `title` would shadow str.title
    choice = "choice"
    pattern = "pattern"
    reference = "reference"


class OutputFormat(StrEnum):
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


Scalar = int | float | str | bool


class FieldSpec(StrictBody):
    """One column: its type and the constraints its values keep."""

    name: str = Field(pattern=FIELD_NAME_PATTERN, description="Column name")
    type: FieldType
    min: int | float | str | None = Field(
        default=None, description="Lowest value (numbers) or earliest ISO date/datetime"
    )
    max: int | float | str | None = Field(
        default=None, description="Highest value (numbers) or latest ISO date/datetime"
    )
    min_length: int | None = Field(
        default=None, ge=0, description="Characters (string) or words (text, lorem)"
    )
    max_length: int | None = Field(default=None, ge=0)
    precision: int | None = Field(
        default=None, ge=0, le=12, description="Digits after the point (float, decimal)"
    )
    distribution: Literal["uniform", "normal"] = "uniform"
    mean: float | None = None
    std: float | None = Field(default=None, gt=0)
    true_ratio: float = Field(default=0.5, ge=0, le=1, description="Share of true (boolean)")
    null_ratio: float = Field(default=0.0, ge=0, le=1, description="Share of nulls")
    unique: bool = False
    choices: list[Scalar] | None = Field(default=None, max_length=10_000)
    weights: list[float] | None = None
    pattern: str | None = Field(
        default=None, max_length=500, description="Regex subset for type pattern"
    )
    format: str | None = Field(
        default=None,
        max_length=100,
        description="strftime format (date, datetime) or # mask (phone)",
    )
    locale: str | None = Field(default=None, max_length=10)
    ref: str | None = Field(default=None, description="Field whose values a reference samples")
    llm_prompt: str | None = Field(
        default=None,
        max_length=500,
        description="text only: what the configured LLM should write (a pool of values per job)",
    )
    description: str | None = Field(default=None, max_length=500)


class DatasetSchema(StrictBody):
    """A dataset to generate: the params of a `generate` job."""

    name: str = Field(default="dataset", min_length=1, max_length=100)
    fields: list[FieldSpec] = Field(min_length=1, max_length=MAX_FIELDS)
    rows: int = Field(default=1000, ge=1)
    chunk_size: int = Field(
        default=10_000, ge=1, description="Rows per chunk (when left out: rows/50 within 10k-100k)"
    )
    format: OutputFormat = OutputFormat.parquet
    seed: int = Field(
        default_factory=lambda: secrets.randbelow(2**31),
        ge=0,
        le=2**63 - 1,
        description="Same seed, same schema: same rows (a random seed is drawn when left out)",
    )
    unique_fields: list[str] = Field(
        default_factory=list, description="Fields whose values never repeat across the dataset"
    )
    locale: str = Field(default="en", max_length=10)

    @model_validator(mode="before")
    @classmethod
    def _default_chunk_size(cls, data: Any) -> Any:
        # Small chunks give fine-grained progress; big datasets need fewer, larger ones.
        if isinstance(data, dict) and data.get("chunk_size") is None:
            rows = data.get("rows", 1000)
            if isinstance(rows, int) and not isinstance(rows, bool):
                return {**data, "chunk_size": min(max(10_000, rows // 50), 100_000)}
        return data

    @field_validator("fields")
    @classmethod
    def _names_unique(cls, value: list[FieldSpec]) -> list[FieldSpec]:
        seen: set[str] = set()
        for spec in value:
            if spec.name in seen:
                raise ValueError(f"field name {spec.name!r} is used twice")
            seen.add(spec.name)
        return value

    @property
    def chunk_count(self) -> int:
        return -(-self.rows // self.chunk_size)

    def chunk_rows(self, index: int) -> int:
        return min(self.chunk_size, self.rows - index * self.chunk_size)

    def is_unique(self, spec: FieldSpec) -> bool:
        return spec.unique or spec.name in self.unique_fields


class Issue(BaseModel):
    field: str | None = None
    message: str
    code: str
    severity: Literal["error", "warning"] = "error"


class ValidationReport(BaseModel):
    valid: bool
    issues: list[Issue]
    schema_: DatasetSchema | None = Field(default=None, alias="schema")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class ExtractRequest(StrictBody):
    description: str = Field(min_length=3, max_length=10_000)
    extractor: Literal["auto", "llm", "rules"] = "auto"
    rows: int | None = Field(default=None, ge=1, description="Overrides a count in the text")
    format: OutputFormat | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)


class ExtractNote(BaseModel):
    """How one part of the description was read (info), guessed or not understood (warning)."""

    field: str | None = Field(default=None, description="The column it became, if any")
    phrase: str | None = Field(default=None, description="The words of the description")
    message: str
    level: Literal["info", "warning"] = "info"


class ExtractResponse(BaseModel):
    extractor: Literal["llm", "rules"]
    schema_: DatasetSchema = Field(alias="schema")
    uninterpreted: list[str] = Field(
        default_factory=list,
        description="Phrases no rule could type; each became a text column (see notes)",
    )
    notes: list[ExtractNote] = Field(default_factory=list)
    validation: ValidationReport
    model: str | None = None

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class FieldOverride(StrictBody):
    """Constraint changes for one field in one chunk (the type and name stay)."""

    min: int | float | str | None = None
    max: int | float | str | None = None
    min_length: int | None = Field(default=None, ge=0)
    max_length: int | None = Field(default=None, ge=0)
    precision: int | None = Field(default=None, ge=0, le=12)
    null_ratio: float | None = Field(default=None, ge=0, le=1)
    true_ratio: float | None = Field(default=None, ge=0, le=1)
    choices: list[Scalar] | None = None
    weights: list[float] | None = None
    pattern: str | None = None


class ChunkGenerateRequest(StrictBody):
    seed: int | None = Field(
        default=None, ge=0, le=2**63 - 1, description="A different seed for this chunk only"
    )
    fields: dict[str, FieldOverride] = Field(default_factory=dict)


class ChunkOut(BaseModel):
    index: int
    status: str
    rows: int
    checksum: str | None
    bytes: int | None = None
    overrides: dict[str, Any] | None = None
    error: str | None = None
    finished_at: datetime | None = None


class ChunkList(BaseModel):
    job_id: str
    chunk_count: int
    chunk_size: int
    rows: int
    chunks: list[ChunkOut]


class ChunkPreview(BaseModel):
    index: int
    rows: int
    columns: list[str]
    data: list[dict[str, Any]]


class DownloadRequest(StrictBody):
    format: OutputFormat | None = None
    force_remerge: bool = False


class DownloadInfo(BaseModel):
    job_id: str
    format: OutputFormat
    status: Literal["ready", "merging", "failed"]
    rows: int | None = None
    bytes: int | None = None
    checksum: str | None = None
    merge_job_id: str | None = None
    url: str
    error: str | None = None


class DatasetCreate(StrictBody):
    """A dataset schema, or a description to extract one from."""

    dataset_schema: DatasetSchema | None = Field(default=None, alias="schema")
    description: str | None = Field(default=None, min_length=3, max_length=10_000)
    rows: int | None = Field(default=None, ge=1)
    format: OutputFormat | None = None
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class DatasetMapping(StrictBody):
    """Which dataset columns feed which record fields."""

    content: str = Field(description="Column whose text becomes the record content")
    external_id: str | None = Field(
        default=None, description="Column used as the external id (re-imports then upsert)"
    )
    memory_type: str | None = Field(default=None, description="Column holding the record type")
    metadata: list[str] | Literal["*"] | None = Field(
        default="*", description='Columns copied into metadata; "*" = every other column'
    )


class ImportRequest(StrictBody):
    """Load a generated dataset into a collection through the import operation."""

    collection: str = Field(pattern=COLLECTION_PATTERN)
    mode: Literal["upsert", "append", "replace"] = "upsert"
    mapping: DatasetMapping
