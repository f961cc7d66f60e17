"""Per-section checks beyond the shape: files on disk, the model registry, the Sheets API.

The checks that need another domain are that domain's: the embedding model registry and the
Sheets client register theirs here (register_check), so settings imports none of the domains
that read their sections from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.settings.credentials import (
    CredentialError,
    load_service_account,
    public_facts,
    resolve_secret_file,
)
from foredeck.settings.schemas import (
    CredentialsSettings,
    FieldError,
    GeneratorSettings,
    Section,
    ValidationResult,
)

# (session, the section's value, config, remote: whether it may call other services) -> verdict
SectionCheck = Callable[[AsyncSession, Any, Config, bool], Awaitable[ValidationResult]]
_CHECKS: dict[type[Section], SectionCheck] = {}


def register_check(section: type[Section], check: SectionCheck) -> None:
    """The own check of a section another domain knows how to judge."""
    _CHECKS[section] = check


def needs_remote(name: str) -> bool:
    """Sections whose full validation calls another service."""
    return name == "sheets"


def fail(field: str, message: str) -> ValidationResult:
    return ValidationResult(valid=False, errors=[FieldError(field=field, message=message)])


def check_credentials(value: CredentialsSettings, config: Config) -> ValidationResult:
    if not value.path:
        return fail("path", "no credentials file is set")
    try:
        path = resolve_secret_file(config, value.path)
        info = load_service_account(path)
    except CredentialError as exc:
        return fail("path", str(exc))
    return ValidationResult(valid=True, info=public_facts(info))


async def stored_credentials(
    session: AsyncSession, config: Config
) -> tuple[dict[str, Any] | None, str | None]:
    """The stored service account (for the Sheets API), or why there is none."""
    from foredeck.settings import service

    creds = await service.get_section(session, "credentials")
    if not creds.path:
        return None, "set the credentials section first"
    try:
        return load_service_account(resolve_secret_file(config, creds.path)), None
    except CredentialError as exc:
        return None, f"the stored credentials are not usable: {exc}"


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
    if isinstance(value, GeneratorSettings):
        return check_generator(value, config)
    registered = _CHECKS.get(type(value))
    if registered is not None:
        return await registered(session, value, config, remote)
    return ValidationResult(valid=True)
