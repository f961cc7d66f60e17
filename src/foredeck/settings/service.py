"""Settings in the database: typed sections, validation before storage, live validity."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal, TypeVar, overload

from pydantic import ValidationError
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import NotFound, ValidationFailed, pydantic_details
from foredeck.models.base import utcnow
from foredeck.models.settings import Setting
from foredeck.settings import validators
from foredeck.settings.schemas import (
    SECTIONS,
    CredentialsSettings,
    EmbeddingSettings,
    FieldError,
    GeneratorSettings,
    IndexSettings,
    OperationsSettings,
    RetentionSettings,
    Section,
    SectionOut,
    SettingsOut,
    SheetsSettings,
    ValidationResult,
    WorkersSettings,
)

S = TypeVar("S", bound=Section)
# A reserved row that records the one-time migration of file/env configuration.
CONFIG_IMPORT_KEY = "_config_import"
# Told a section's name once a change to it is committed in this process (the embedding
# domain switches models live); other processes notice the stored checksum change.
change_listeners: list[Callable[[str], None]] = []


def _notify_after_commit(session: AsyncSession, name: str) -> None:
    if not change_listeners:
        return

    def committed(_session: Any) -> None:
        for listener in list(change_listeners):
            listener(name)

    event.listen(session.sync_session, "after_commit", committed, once=True)


def checksum(value: dict[str, Any]) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def section_model(name: str) -> type[Section]:
    """The model class of a section; NotFound for an unknown section."""
    try:
        return SECTIONS[name]
    except KeyError:
        raise NotFound(
            f"No settings section {name!r}; sections are {', '.join(SECTIONS)}"
        ) from None


async def _row(session: AsyncSession, name: str) -> Setting | None:
    return await session.get(Setting, name)


@overload
async def get_section(
    session: AsyncSession, name: Literal["credentials"]
) -> CredentialsSettings: ...
@overload
async def get_section(session: AsyncSession, name: Literal["sheets"]) -> SheetsSettings: ...
@overload
async def get_section(session: AsyncSession, name: Literal["embedding"]) -> EmbeddingSettings: ...
@overload
async def get_section(session: AsyncSession, name: Literal["index"]) -> IndexSettings: ...
@overload
async def get_section(session: AsyncSession, name: Literal["workers"]) -> WorkersSettings: ...
@overload
async def get_section(session: AsyncSession, name: Literal["retention"]) -> RetentionSettings: ...
@overload
async def get_section(session: AsyncSession, name: Literal["generator"]) -> GeneratorSettings: ...
@overload
async def get_section(session: AsyncSession, name: Literal["operations"]) -> OperationsSettings: ...
@overload
async def get_section(session: AsyncSession, name: str) -> Section: ...
async def get_section(session: AsyncSession, name: str) -> Section:
    """The typed value of a section: what is stored, or the defaults when it is unset."""
    model = section_model(name)
    row = await _row(session, name)
    if row is None:
        return model()
    try:
        return model.model_validate(row.value_json)
    except ValidationError:
        # A value stored by an older version that no longer parses: fall back, never crash.
        return model()


def parse_section(name: str, value: Any) -> tuple[Section | None, list[FieldError]]:
    """Shape checks only (types, ranges); per-field messages on failure."""
    model = section_model(name)
    if not isinstance(value, dict):
        return None, [FieldError(field=name, message="must be a JSON object")]
    try:
        return model.model_validate(value), []
    except ValidationError as exc:
        return None, [FieldError(**d) for d in pydantic_details(exc, empty=name)]


async def validate_value(
    session: AsyncSession,
    name: str,
    value: Any,
    *,
    config: Config,
    remote: bool = True,
) -> tuple[Section | None, ValidationResult]:
    """Shape checks then the section's own checks (files, model registry, Sheets API)."""
    parsed, errors = parse_section(name, value)
    if parsed is None:
        return None, ValidationResult(valid=False, errors=errors)
    result = await validators.check(session, name, parsed, config=config, remote=remote)
    return parsed, result


async def put_section(
    session: AsyncSession,
    name: str,
    value: Any,
    *,
    config: Config,
    updated_by: str | None = None,
    notes: str | None = None,
    remote: bool = True,
) -> SectionOut:
    """Store a section once its validation passes; otherwise 422 and nothing is written."""
    parsed, result = await validate_value(session, name, value, config=config, remote=remote)
    if parsed is None or not result.valid:
        raise ValidationFailed(
            f"The {name} settings are not valid",
            details=[{"field": e.field, "message": e.message} for e in result.errors],
        )
    data = parsed.model_dump(mode="json")
    row = await _row(session, name)
    now = utcnow()
    if row is None:
        row = Setting(key=name)
        session.add(row)
    row.value_json = data
    row.checksum = checksum(data)
    row.validated_at = now if remote or not validators.needs_remote(name) else None
    row.updated_by = updated_by
    if notes is not None:
        row.notes = notes
    row.updated_at = now
    await session.flush()
    _notify_after_commit(session, name)
    return _out(name, row, parsed, result)


async def delete_section(session: AsyncSession, name: str) -> None:
    """Back to the defaults."""
    section_model(name)
    row = await _row(session, name)
    if row is not None:
        await session.delete(row)
        await session.flush()
        _notify_after_commit(session, name)


def _out(name: str, row: Setting | None, value: Section, result: ValidationResult) -> SectionOut:
    return SectionOut(
        section=name,
        value=value.model_dump(mode="json"),
        configured=row is not None,
        valid=result.valid,
        errors=result.errors,
        info=result.info,
        checksum=row.checksum if row else None,
        validated_at=row.validated_at if row else None,
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else None,
        notes=row.notes if row else None,
    )


async def section_state(session: AsyncSession, name: str, *, config: Config) -> SectionOut:
    """A section with whether it is valid right now (local checks, no network)."""
    value = await get_section(session, name)
    row = await _row(session, name)
    result = await validators.check(session, name, value, config=config, remote=False)
    return _out(name, row, value, result)


async def all_sections(session: AsyncSession, *, config: Config) -> SettingsOut:
    """Every section with its validity; secrets are never part of any value."""
    sections = {name: await section_state(session, name, config=config) for name in SECTIONS}
    marker = await _row(session, CONFIG_IMPORT_KEY)
    return SettingsOut(
        sections=sections,
        # Unset sections keep their defaults; only what an operator set can be "wrong".
        valid=all(s.valid or not s.configured for s in sections.values()),
        config_imported_at=marker.created_at if marker else None,
    )


async def config_import_done(session: AsyncSession) -> datetime | None:
    marker = await _row(session, CONFIG_IMPORT_KEY)
    return marker.created_at if marker else None


async def mark_config_imported(session: AsyncSession, report: dict[str, Any]) -> None:
    row = await _row(session, CONFIG_IMPORT_KEY)
    if row is None:
        row = Setting(key=CONFIG_IMPORT_KEY)
        session.add(row)
    row.value_json = report
    row.checksum = checksum(report)
    row.updated_at = utcnow()
    await session.flush()


async def stored_keys(session: AsyncSession) -> set[str]:
    rows = await session.scalars(select(Setting.key))
    return set(rows)


async def worker_slots(session: AsyncSession) -> dict[str, int] | None:
    """`workers.concurrency` for the executors, or None while the section is not stored."""
    if "workers" not in await stored_keys(session):
        return None
    return dict((await get_section(session, "workers")).concurrency)
