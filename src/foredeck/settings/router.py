"""`/api/v1/settings`: operator settings, validated before they are stored."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from foredeck.auth.deps import Operator, Viewer, require_role
from foredeck.auth.schemas import Role
from foredeck.auth.service import Principal
from foredeck.kit.deps import ConfigDep, SessionDep
from foredeck.kit.envelope import Envelope, ok
from foredeck.settings import migration
from foredeck.settings import service as settings_service
from foredeck.settings.schemas import (
    ImportConfigReport,
    SectionOut,
    SettingsOut,
    ValidationResult,
)

router = APIRouter(prefix="/api/v1/settings", tags=["settings"])

# Who may change settings (store, reset, import): the console's forms check this same role.
# Checking a value without storing it stays open to operators.
EDIT_ROLE = Role.admin
SettingsEditor = Annotated[Principal, Depends(require_role(EDIT_ROLE))]

SectionBody = Annotated[dict[str, Any], Body(description="The whole section value")]


@router.get("", response_model=Envelope[SettingsOut])
async def get_settings(_: Viewer, session: SessionDep, config: ConfigDep) -> Any:
    """Every section with its current validity; secrets are never included."""
    return ok(await settings_service.all_sections(session, config=config))


@router.post("/import-config", response_model=Envelope[ImportConfigReport])
async def import_config(
    _: SettingsEditor,
    session: SessionDep,
    config: ConfigDep,
    overwrite: bool = False,
) -> Any:
    """Copy sections from the YAML config file and FOREDECK_* variables into the database."""
    return ok(await migration.import_config(session, config, overwrite=overwrite))


@router.get("/{section}", response_model=Envelope[SectionOut])
async def get_section(section: str, _: Viewer, session: SessionDep, config: ConfigDep) -> Any:
    """One section: its value (defaults when unset) and whether it is valid right now."""
    settings_service.section_model(section)
    return ok(await settings_service.section_state(session, section, config=config))


@router.put("/{section}", response_model=Envelope[SectionOut])
async def put_section(
    section: str,
    body: SectionBody,
    principal: SettingsEditor,
    session: SessionDep,
    config: ConfigDep,
    notes: Annotated[str | None, Query(max_length=2000)] = None,
) -> Any:
    """Store a section after it passes validation (admin); 422 with per-field messages otherwise."""
    out = await settings_service.put_section(
        session, section, body, config=config, updated_by=principal.username, notes=notes
    )
    return ok(out)


@router.post("/{section}/validate", response_model=Envelope[ValidationResult])
async def validate_section(
    section: str,
    _: Operator,
    session: SessionDep,
    config: ConfigDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> Any:
    """Run a section's checks on the given value (or the stored one) without storing it."""
    settings_service.section_model(section)
    value = body
    if value is None:
        value = (await settings_service.get_section(session, section)).model_dump(mode="json")
    _parsed, result = await settings_service.validate_value(session, section, value, config=config)
    return ok(result)


@router.delete("/{section}", response_model=Envelope[SectionOut])
async def reset_section(
    section: str, _: SettingsEditor, session: SessionDep, config: ConfigDep
) -> Any:
    """Forget a stored section so its defaults apply again."""
    await settings_service.delete_section(session, section)
    return ok(await settings_service.section_state(session, section, config=config))
