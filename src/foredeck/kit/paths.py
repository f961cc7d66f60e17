"""The one check for a filesystem path a user gives (settings, imports): a file inside a
managed directory, refused with a message safe to show before the OS can raise on it.

Python raises ValueError (embedded NUL), UnicodeEncodeError (a lone surrogate) or OSError
(ENAMETOOLONG, ELOOP, EACCES) from the first stat of such a path; each one escaping to the
handler is a 500, so every shape the OS would refuse is refused here first, by name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

# Linux limits (PATH_MAX, NAME_MAX), in bytes of the encoded path; macOS allows less per
# component on some file systems, never more.
MAX_PATH_BYTES = 4095
MAX_NAME_BYTES = 255


class PathRefused(ValueError):
    """A path that must not be used; the message is safe to show to the user."""


def check_path_text(raw: object) -> str:
    """The path as text if the OS could take it at all; PathRefused otherwise."""
    if not isinstance(raw, str):
        raise PathRefused("must be a string")
    if not raw.strip():
        raise PathRefused("must not be empty")
    if "\x00" in raw:
        raise PathRefused("must not contain a NUL byte")
    try:
        encoded = raw.encode("utf-8")
    except UnicodeEncodeError:
        raise PathRefused("must be a valid UTF-8 string (it holds a lone surrogate)") from None
    if len(encoded) > MAX_PATH_BYTES:
        raise PathRefused(f"is too long (at most {MAX_PATH_BYTES} bytes)")
    if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in raw.split("/")):
        raise PathRefused(f"has a name longer than {MAX_NAME_BYTES} bytes")
    return raw


def managed_file(base: Path, raw: object, *, what: str, follow_links: bool = False) -> Path:
    """A regular file inside `base` (a relative path is taken from there).

    `what` names the directory in messages. Without `follow_links` any symbolic link on the
    way is refused (a link is how a path escapes); with it, links are followed but the file
    they reach must still be inside `base`."""
    text = check_path_text(raw)
    base = base.resolve()
    candidate = Path(text)
    if ".." in candidate.parts:
        raise PathRefused("must not contain '..'")
    if not candidate.is_absolute():
        candidate = base / candidate
    lexical = Path(os.path.abspath(candidate))
    try:
        relative = lexical.relative_to(base)
    except ValueError:
        raise PathRefused(f"must be inside the {what} {base}") from None
    try:
        if not follow_links:
            probe = base
            for part in relative.parts:
                probe = probe / part
                if probe.is_symlink():
                    raise PathRefused("must not be or pass through a symbolic link")
        resolved = lexical.resolve()
        if not resolved.is_relative_to(base):
            raise PathRefused(f"must be inside the {what} {base}")
        if not resolved.exists():
            raise PathRefused(f"the file does not exist in the {what}")
        mode = resolved.stat().st_mode
    except OSError as exc:
        # The message names only the kind of failure, never other paths the OS may add.
        raise PathRefused(f"cannot be read ({os.strerror(exc.errno or 0)})") from None
    except RuntimeError:  # a link loop, on Pythons that raise it from resolve()
        raise PathRefused("is a symbolic link loop") from None
    if stat.S_ISDIR(mode):
        raise PathRefused("is a directory, not a file")
    if not stat.S_ISREG(mode):
        raise PathRefused("must be a regular file")
    return resolved
