"""Per-section checks beyond the shape: files on disk, the model registry, the Sheets API."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import AppError
from foredeck.settings.credentials import (
    CredentialError,
    load_service_account,
    public_facts,
    resolve_secret_file,
)
from foredeck.settings.schemas import (
    CredentialsSettings,
    EmbeddingSettings,
    FieldError,
    GeneratorSettings,
    Section,
    SheetsSettings,
    ValidationResult,
)


def needs_remote(name: str) -> bool:
    """Sections whose full validation calls another service."""
    return name == "sheets"


def known_models(config: Config) -> list[str]:
    """Model names the embedding registry knows (installed or not)."""
    # Imported when used: the embedding domain reads its settings section from here.
    from foredeck.embedding import registry

    return [m.name for m in registry.available_models(config)]


def _fail(field: str, message: str) -> ValidationResult:
    return ValidationResult(valid=False, errors=[FieldError(field=field, message=message)])


def check_credentials(value: CredentialsSettings, config: Config) -> ValidationResult:
    if not value.path:
        return _fail("path", "no credentials file is set")
    try:
        path = resolve_secret_file(config, value.path)
        info = load_service_account(path)
    except CredentialError as exc:
        return _fail("path", str(exc))
    return ValidationResult(valid=True, info=public_facts(info))


async def _stored_credentials(
    session: AsyncSession, config: Config
) -> tuple[dict[str, Any] | None, str | None]:
    from foredeck.settings import service

    creds = await service.get_section(session, "credentials")
    if not creds.path:
        return None, "set the credentials section first"
    try:
        return load_service_account(resolve_secret_file(config, creds.path)), None
    except CredentialError as exc:
        return None, f"the stored credentials are not usable: {exc}"


async def check_sheets(
    session: AsyncSession, value: SheetsSettings, config: Config, *, remote: bool
) -> ValidationResult:
    if not value.sheets:
        return ValidationResult(valid=True)
    info, problem = await _stored_credentials(session, config)
    if info is None:
        return _fail("sheets", problem or "credentials missing")
    if not remote:
        return ValidationResult(valid=True)
    from foredeck.operations.sources.sheets import SheetsClient, SheetsError

    errors: list[FieldError] = []
    titles: dict[str, Any] = {}
    async with SheetsClient.from_settings(info, value) as client:
        for i, ref in enumerate(value.sheets):
            try:
                meta = await client.get_metadata(ref.spreadsheet_id)
            except SheetsError as exc:
                errors.append(FieldError(field=f"sheets.{i}.spreadsheet_id", message=str(exc)))
                continue
            tab = ref.range.split("!", 1)[0].strip("'") if ref.range else ""
            tabs = [s.get("properties", {}).get("title") for s in meta.get("sheets", [])]
            if tab and tabs and tab not in tabs:
                errors.append(
                    FieldError(
                        field=f"sheets.{i}.range",
                        message=f"no tab named {tab!r}; the spreadsheet has {', '.join(tabs)}",
                    )
                )
            titles[ref.name] = meta.get("properties", {}).get("title")
    return ValidationResult(valid=not errors, errors=errors, info={"titles": titles})


def check_embedding(value: EmbeddingSettings, config: Config) -> ValidationResult:
    if value.model is None:
        return ValidationResult(valid=True, info={"model": "server default"})
    from foredeck.embedding import registry

    try:
        info = registry.model_info(config, value.model)
    except AppError as exc:
        return _fail("model", exc.message)
    return ValidationResult(
        valid=True, info={"dimension": info.dimension, "provider": info.provider}
    )


def check_generator(value: GeneratorSettings, config: Config) -> ValidationResult:
    errors: list[FieldError] = []
    if value.api_key_path:
        try:
            resolve_secret_file(config, value.api_key_path)
        except CredentialError as exc:
            errors.append(FieldError(field="api_key_path", message=str(exc)))
    if value.provider != "none" and not value.model:
        errors.append(FieldError(field="model", message=f"{value.provider} needs a model name"))
    if value.provider == "openai" and not value.base_url:
        errors.append(FieldError(field="base_url", message="an OpenAI-style endpoint needs one"))
    return ValidationResult(valid=not errors, errors=errors)


async def check(
    session: AsyncSession, name: str, value: Section, *, config: Config, remote: bool
) -> ValidationResult:
    """The section's own checks; the value already has the right shape."""
    if isinstance(value, CredentialsSettings):
        return check_credentials(value, config)
    if isinstance(value, SheetsSettings):
        return await check_sheets(session, value, config, remote=remote)
    if isinstance(value, EmbeddingSettings):
        return check_embedding(value, config)
    if isinstance(value, GeneratorSettings):
        return check_generator(value, config)
    return ValidationResult(valid=True)
