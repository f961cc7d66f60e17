"""Move configuration from a YAML file and FOREDECK_* variables into the settings table."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.logging import get_logger
from foredeck.models.base import utcnow
from foredeck.settings import service
from foredeck.settings.schemas import SECTIONS, ImportConfigReport

log = get_logger(__name__)


def _coerce(raw: str) -> Any:
    """An env value as YAML so numbers, booleans and lists keep their type."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def from_yaml(path: Path) -> dict[str, dict[str, Any]]:
    """Sections found in a YAML file (top-level keys named like the sections)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a mapping of sections")
    settings = data.get("settings", data)
    return {k: dict(v) for k, v in settings.items() if k in SECTIONS and isinstance(v, dict)}


def from_env(environ: Mapping[str, str], config: Config) -> dict[str, dict[str, Any]]:
    """FOREDECK_<SECTION>_<FIELD> variables, e.g. FOREDECK_CREDENTIALS_PATH."""
    found: dict[str, dict[str, Any]] = {}
    for name, model in SECTIONS.items():
        for field in model.model_fields:
            key = f"FOREDECK_{name}_{field}".upper()
            if key in environ:
                found.setdefault(name, {})[field] = _coerce(environ[key])
    if config.embedding_model:
        found.setdefault("embedding", {}).setdefault("model", config.embedding_model)
    return found


def gather(config: Config, environ: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Sections from the file, overridden field by field by the environment."""
    merged: dict[str, dict[str, Any]] = {}
    sources: list[str] = []
    if config.config_file is not None and config.config_file.exists():
        for name, value in from_yaml(config.config_file).items():
            merged[name] = value
        sources.append(str(config.config_file))
    env = from_env(environ, config)
    if env:
        sources.append("environment")
    for name, value in env.items():
        merged.setdefault(name, {}).update(value)
    return merged, sources


async def import_config(
    session: AsyncSession,
    config: Config,
    *,
    overwrite: bool = False,
    first_run: bool = False,
    environ: Mapping[str, str] | None = None,
) -> ImportConfigReport:
    """Store each found section that passes validation; first_run does it at most once."""
    if first_run and await service.config_import_done(session) is not None:
        return ImportConfigReport(source=[], imported=[], skipped={}, already_done=True)
    found, sources = gather(config, os.environ if environ is None else environ)
    existing = await service.stored_keys(session)
    imported: list[str] = []
    skipped: dict[str, str] = {}
    # Credentials first: the sheets check needs them.
    for name in sorted(found, key=lambda n: (n != "credentials", n)):
        if name in existing and not overwrite:
            skipped[name] = "already set in the database"
            continue
        current = (await service.get_section(session, name)).model_dump(mode="json")
        value = {**current, **found[name]}
        parsed, result = await service.validate_value(
            session, name, value, config=config, remote=False
        )
        if parsed is None or not result.valid:
            skipped[name] = "; ".join(f"{e.field}: {e.message}" for e in result.errors)
            continue
        await service.put_section(
            session,
            name,
            value,
            config=config,
            updated_by="config-import",
            notes=f"imported from {', '.join(sources)}",
            remote=False,
        )
        imported.append(name)
    report = ImportConfigReport(source=sources, imported=imported, skipped=skipped)
    if first_run:
        await service.mark_config_imported(
            session, {**report.model_dump(), "at": utcnow().isoformat()}
        )
    log.info("settings_config_import", imported=imported, skipped=list(skipped))
    return report
