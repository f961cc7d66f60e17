"""The managed credentials directory: secret files are referenced by path, never copied."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from foredeck.config import Config


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
    """A path that exists, is a regular file inside the managed directory and is owner-only."""
    base = credentials_dir(config).resolve()
    candidate = Path(raw)
    if not candidate.is_absolute():
        candidate = base / candidate
    if ".." in Path(raw).parts:
        raise CredentialError("must not contain '..'")
    # Refuse links anywhere under the managed dir: a link is how a path escapes it.
    lexical = Path(os.path.abspath(candidate))
    try:
        relative = lexical.relative_to(base)
    except ValueError as exc:
        raise CredentialError(f"must be inside the managed credentials directory {base}") from exc
    probe = base
    for part in relative.parts:
        probe = probe / part
        if probe.is_symlink():
            raise CredentialError("must not be or pass through a symbolic link")
    resolved = lexical.resolve()
    if not resolved.is_relative_to(base):
        raise CredentialError(f"must be inside the managed credentials directory {base}")
    if not resolved.exists():
        raise CredentialError("the file does not exist")
    info = resolved.stat()
    if not stat.S_ISREG(info.st_mode):
        raise CredentialError("must be a regular file")
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
    missing = [k for k in ("client_email", "private_key") if not info.get(k)]
    if missing:
        raise CredentialError(f"the key file lacks {', '.join(missing)}")
    return info


def public_facts(info: dict[str, Any]) -> dict[str, Any]:
    """What may be shown about a key file: who it is, never the key."""
    return {
        "client_email": info.get("client_email"),
        "project_id": info.get("project_id"),
        "private_key_id": (info.get("private_key_id") or "")[:8] or None,
    }
