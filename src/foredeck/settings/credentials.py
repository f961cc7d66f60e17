"""The managed credentials directory: secret files are referenced by path, never copied."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from foredeck.config import Config
from foredeck.kit.paths import PathRefused, managed_file


class CredentialError(ValueError):
    """A credentials path that must not be used; the message is safe to show."""


def credentials_dir(config: Config) -> Path:
    """The managed directory; created owner-only on first use."""
    path = config.path("credentials")
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
    return path


def resolve_secret_file(config: Config, raw: str) -> Path:
    """A regular file inside the managed directory, reached through no link, owner-only."""
    try:
        resolved = managed_file(credentials_dir(config), raw, what="managed credentials directory")
    except PathRefused as exc:
        raise CredentialError(str(exc)) from None
    info = resolved.stat()
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialError(
            f"the file is readable by group or others (mode {stat.S_IMODE(info.st_mode):o}); "
            "run chmod 600 on it"
        )
    return resolved


def load_service_account(path: Path) -> dict[str, Any]:
    """The service-account JSON, checked for the fields a token exchange needs."""
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CredentialError("the file is not a readable JSON service-account key") from exc
    if not isinstance(info, dict):
        raise CredentialError("the file is not a JSON object")
    if info.get("type") != "service_account":
        raise CredentialError(
            "the file is not a service-account key (type must be service_account)"
        )
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise CredentialError(f"the key file lacks {', '.join(missing)}")
    check_private_key(info)
    return info


def check_private_key(info: dict[str, Any]) -> None:
    """The key parsed and tried the way google-auth will use it, offline.

    A key that only fails at the first token exchange would pass validation and then fail
    every Sheets call. The message never quotes the key or the parser's own words (which
    may echo part of it)."""
    from google.oauth2 import service_account

    try:
        credentials = service_account.Credentials.from_service_account_info(info)
        # A non-RSA key parses, then cannot sign the RS256 assertion Google expects.
        credentials.signer.sign(b"foredeck key check")
    except Exception:  # whatever the parser raises, the key is unusable
        raise CredentialError(
            "the private_key in the key file does not parse as an unencrypted PEM RSA key"
        ) from None


def public_facts(info: dict[str, Any]) -> dict[str, Any]:
    """What may be shown about a key file: who it is, never the key."""
    return {
        "client_email": info.get("client_email"),
        "project_id": info.get("project_id"),
        "private_key_id": (info.get("private_key_id") or "")[:8] or None,
    }
