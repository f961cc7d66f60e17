"""HTTP routes of the generator: schema extraction and validation, and queueing datasets.

A generated dataset's chunks, downloads and imports are routes of the jobs router, answered
by the providers in generator.handlers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from foredeck.auth.deps import Operator, Viewer
from foredeck.errors import ValidationFailed
from foredeck.generator import service as gen_service
from foredeck.generator.schemas import (
    DatasetCreate,
    ExtractRequest,
    ExtractResponse,
    ValidationReport,
)
from foredeck.jobs.schemas import JobCreated, job_read
from foredeck.kit.deps import ConfigDep, SessionDep
from foredeck.kit.envelope import Envelope, ok

router = APIRouter(prefix="/api/v1", tags=["generator"])


@router.post("/schema/extract", response_model=Envelope[ExtractResponse])
async def extract_schema(
    body: ExtractRequest, _: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Turn a description into a dataset schema (LLM when configured, else offline rules)."""
    result = await gen_service.extract_schema(session, config, body)
    return ok(result.model_dump(mode="json", by_alias=True))


@router.post("/schema/validate", response_model=Envelope[ValidationReport])
async def validate_schema(
    _: Viewer,
    session: SessionDep,
    body: Annotated[dict[str, Any], Body(description="A dataset schema document")],
) -> Any:
    """Check a schema without generating anything: {valid, issues[]}, impossible ones too."""
    result = await gen_service.validate_schema(session, body)
    return ok(result.model_dump(mode="json", by_alias=True))


@router.post("/datasets", response_model=Envelope[JobCreated], status_code=202)
async def create_dataset(
    body: DatasetCreate, user: Operator, session: SessionDep, config: ConfigDep
) -> Any:
    """Queue a `generate` job from a schema, or from a description extracted first."""
    if (body.dataset_schema is None) == (body.description is None):
        raise ValidationFailed.field("schema", "Send exactly one of schema or description")
    if body.dataset_schema is not None:
        schema = body.dataset_schema
        changes = {
            k: getattr(body, k) for k in ("rows", "format", "seed") if getattr(body, k) is not None
        }
        if changes:
            schema = schema.model_validate({**schema.model_dump(), **changes})
    else:
        assert body.description is not None
        extracted = await gen_service.extract_schema(
            session,
            config,
            ExtractRequest(
                description=body.description, rows=body.rows, format=body.format, seed=body.seed
            ),
        )
        schema = extracted.schema_
    job = await gen_service.create_generate_job(session, config, schema, created_by=user.user_id)
    read = job_read(job)
    return ok(JobCreated(job_id=read.id, status=read.status, job=read))
