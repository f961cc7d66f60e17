"""Generator logic on an AsyncSession (flush only): extraction, validation, chunks, downloads."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import Conflict, NotFound, ServiceUnavailable, ValidationFailed
from foredeck.generator import extraction, llm, remote, storage, textpools
from foredeck.generator.columns import ColumnError
from foredeck.generator.schemas import (
    ChunkGenerateRequest,
    ChunkList,
    ChunkOut,
    ChunkPreview,
    DatasetSchema,
    ExtractNote,
    ExtractRequest,
    ExtractResponse,
    ValidationReport,
)
from foredeck.generator.validate import Limits, report, require_valid
from foredeck.jobs import listing as jobs_listing
from foredeck.jobs import service as jobs_service
from foredeck.models.base import utcnow
from foredeck.models.generator import GeneratorChunk
from foredeck.models.jobs import Job

KIND = "generate"
MERGE_KIND = "generate_merge"
BUSY = ("running", "cancelling")
GEMINI_OPENAI_URL = "https://generativelanguage.googleapis.com/v1beta/openai"


async def _settings(session: AsyncSession) -> Any | None:
    from foredeck.settings import service as settings_service

    return await settings_service.get_section(session, "generator")


async def limits(session: AsyncSession) -> Limits:
    """Row and chunk caps: the generator settings section where it sets them, else defaults."""
    section = await _settings(session)
    base = Limits()
    return Limits(
        max_rows=int(getattr(section, "max_rows", None) or base.max_rows),
        max_chunk_size=int(getattr(section, "max_chunk_size", None) or base.max_chunk_size),
    )


async def llm_config(session: AsyncSession, config: Config) -> llm.LLMConfig | None:
    """The LLM endpoint from the generator settings section; None when none is configured."""
    section = await _settings(session)
    if section is None or section.provider == "none":
        return None
    base_url = section.base_url or (GEMINI_OPENAI_URL if section.provider == "gemini" else None)
    if not base_url:
        return None
    key = None
    if section.api_key_path:
        from foredeck.settings.credentials import CredentialError, resolve_secret_file

        try:
            key = resolve_secret_file(config, section.api_key_path).read_text().strip()
        except (CredentialError, OSError) as exc:
            raise ValidationFailed.field(
                "generator.api_key_path", f"The LLM key file cannot be used: {exc}"
            ) from exc
    return llm.LLMConfig(
        base_url=base_url,
        model=section.model or "default",
        api_key=key,
        timeout_s=section.timeout_s,
        max_output_tokens=section.max_output_tokens,
    )


async def validate_schema(session: AsyncSession, data: dict[str, Any]) -> ValidationReport:
    """{valid, issues} for a schema document, before any job exists."""
    return await asyncio.to_thread(report, data, await limits(session))


async def extract_schema(
    session: AsyncSession, config: Config, body: ExtractRequest
) -> ExtractResponse:
    """Natural language to a checked schema: by the LLM when configured (falling back to the
    rules, with a note, when it fails and the extractor is auto), else by the offline rules."""
    cfg = await llm_config(session, config) if body.extractor != "rules" else None
    if body.extractor == "llm" and cfg is None:
        raise ValidationFailed.field(
            "extractor", "No LLM is configured (settings section generator: base_url, model)"
        )
    caps = await limits(session)
    uninterpreted: list[str] = []
    notes: list[ExtractNote] = []
    used = "rules"
    data: dict[str, Any] | None = None
    if cfg is not None:

        def check(candidate: dict[str, Any]) -> list[dict[str, str]]:
            found = report({**candidate, "seed": candidate.get("seed", 0)}, caps)
            return [
                {"field": i.field or "schema", "message": i.message}
                for i in found.issues
                if i.severity == "error"
            ]

        try:
            data = await llm.extract(cfg, body.description, check)
            used, notes = "llm", extraction.llm_notes(body.description, data)
        except (ServiceUnavailable, llm.LLMBadOutput) as exc:
            if body.extractor == "llm":
                raise
            notes = [extraction.fallback_note(cfg.model, exc)]
    if data is None:
        data, uninterpreted, rule_notes = extraction.by_rules(body.description)
        notes += rule_notes
    for key in ("rows", "format", "seed"):
        value = getattr(body, key)
        if value is not None:
            data[key] = value.value if hasattr(value, "value") else value
    validation = await validate_schema(session, data)
    if validation.schema_ is None:
        raise ValidationFailed(
            "The extracted schema is not valid",
            details=[{"field": i.field, "message": i.message} for i in validation.issues],
            code="EXTRACTION_FAILED",
        )
    return ExtractResponse(
        extractor=used,  # type: ignore[arg-type]
        schema_=validation.schema_,
        uninterpreted=uninterpreted,
        notes=notes,
        validation=validation,
        model=cfg.model if cfg and used == "llm" else None,
    )


async def create_generate_job(
    session: AsyncSession, config: Config, schema: DatasetSchema, *, created_by: int | None
) -> Job:
    """Check the schema against the limits, then queue a `generate` job for it."""
    await asyncio.to_thread(require_valid, schema, await limits(session))
    needs_llm = textpools.wanted(schema)
    if needs_llm and await llm_config(session, config) is None:
        raise ValidationFailed(
            "Fields with llm_prompt need an LLM (settings section generator)",
            details=[
                {"field": f"fields.{n}.llm_prompt", "message": "no LLM configured"}
                for n in needs_llm
            ],
            code="LLM_NOT_CONFIGURED",
        )
    return await jobs_service.create_job(
        session, kind=KIND, params=schema.model_dump(mode="json"), created_by=created_by
    )


async def generate_job(session: AsyncSession, job_id: str) -> tuple[Job, DatasetSchema]:
    """The job and its schema; 404 unless it is a `generate` job."""
    job = await jobs_service.get_job(session, job_id)
    if job.kind != KIND:
        raise NotFound(f"Job {job_id} is a {job.kind} job, not a dataset generation")
    return job, DatasetSchema.model_validate(job.params)


async def recent_generations(session: AsyncSession, *, limit: int) -> list[Job]:
    """The newest generation jobs, newest first."""
    return await jobs_listing.recent_of_kind(session, "generate", limit=limit)


def chunk_folder(config: Config, job_id: str) -> Path:
    return config.path("jobs", job_id, "chunks")


async def chunk_rows(session: AsyncSession, job_id: str) -> dict[int, GeneratorChunk]:
    rows = await session.scalars(select(GeneratorChunk).where(GeneratorChunk.job_id == job_id))
    return {c.chunk_index: c for c in rows}


def _chunk_out(index: int, schema: DatasetSchema, row: GeneratorChunk | None) -> ChunkOut:
    if row is None:
        return ChunkOut(index=index, status="pending", rows=schema.chunk_rows(index), checksum=None)
    return ChunkOut(
        index=index,
        status=row.status,
        rows=row.rows or schema.chunk_rows(index),
        checksum=row.checksum,
        bytes=row.bytes,
        overrides=row.overrides,
        error=row.error,
        finished_at=row.finished_at,
    )


async def list_chunks(session: AsyncSession, job_id: str) -> ChunkList:
    """Every chunk of a generation job with its status, rows and checksum."""
    _, schema = await generate_job(session, job_id)
    rows = await chunk_rows(session, job_id)
    return ChunkList(
        job_id=job_id,
        chunk_count=schema.chunk_count,
        chunk_size=schema.chunk_size,
        rows=schema.rows,
        chunks=[_chunk_out(i, schema, rows.get(i)) for i in range(schema.chunk_count)],
    )


async def chunk_row(session: AsyncSession, job_id: str, index: int) -> GeneratorChunk | None:
    return await session.scalar(
        select(GeneratorChunk).where(
            GeneratorChunk.job_id == job_id, GeneratorChunk.chunk_index == index
        )
    )


async def record_chunk(
    session: AsyncSession, job_id: str, index: int, **values: Any
) -> GeneratorChunk:
    """Insert or update the row of one chunk."""
    row = await chunk_row(session, job_id, index)
    if row is None:
        row = GeneratorChunk(job_id=job_id, chunk_index=index, **values)
        session.add(row)
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = utcnow()
    await session.flush()
    return row


def _check_index(schema: DatasetSchema, index: int) -> None:
    if index < 0 or index >= schema.chunk_count:
        raise NotFound(
            f"Chunk {index} does not exist; this dataset has chunks 0..{schema.chunk_count - 1}"
        )


async def generate_chunk(
    session: AsyncSession, config: Config, job_id: str, index: int, body: ChunkGenerateRequest
) -> ChunkOut:
    """Generate or regenerate one chunk now, optionally with a seed or field overrides."""
    job, schema = await generate_job(session, job_id)
    _check_index(schema, index)
    if job.status in BUSY:
        raise Conflict(
            f"Job {job_id} is {job.status}; pause it or wait for it to finish first",
            code="JOB_BUSY",
        )
    overrides: dict[str, Any] = {}
    if body.seed is not None:
        overrides["seed"] = body.seed
    if body.fields:
        unknown = [n for n in body.fields if n not in {f.name for f in schema.fields}]
        if unknown:
            raise ValidationFailed(
                "Overrides name fields the schema does not have",
                details=[{"field": f"fields.{n}", "message": "unknown field"} for n in unknown],
            )
        overrides["fields"] = {
            name: o.model_dump(exclude_none=True) for name, o in body.fields.items()
        }
    folder = chunk_folder(config, job_id)
    pools = await textpools.ensure(session, config, schema, config.path("jobs", job_id))
    try:
        rows, size, checksum = await asyncio.to_thread(
            storage.write_chunk, schema, index, folder, overrides or None, pools or None
        )
    except (ColumnError, ValueError) as exc:
        raise ValidationFailed.field("fields", f"The overrides cannot be generated: {exc}") from exc
    await remote.publish(config, folder / storage.chunk_name(index))
    row = await record_chunk(
        session,
        job_id,
        index,
        status="done",
        rows=rows,
        bytes=size,
        checksum=checksum,
        overrides=overrides or None,
        error=None,
        finished_at=utcnow(),
    )
    return _chunk_out(index, schema, row)


async def preview_chunk(
    session: AsyncSession, config: Config, job_id: str, index: int, limit: int
) -> tuple[ChunkPreview, str]:
    """The first `limit` rows of a generated chunk, as JSON rows and as CSV text."""
    _, schema = await generate_job(session, job_id)
    _check_index(schema, index)
    row = (await chunk_rows(session, job_id)).get(index)
    path = chunk_folder(config, job_id) / storage.chunk_name(index)
    if row is None or row.status != "done" or not await remote.present(config, path):
        raise NotFound(f"Chunk {index} has not been generated yet", code="CHUNK_NOT_READY")
    async with remote.readable(config, [path]) as (local,):
        table = await asyncio.to_thread(storage.read_chunk, local, limit)
    preview = ChunkPreview(
        index=index, rows=row.rows, columns=table.column_names, data=storage.json_rows(table)
    )
    return preview, storage.csv_text(table)
