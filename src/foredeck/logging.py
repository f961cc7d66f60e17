"""structlog set-up: console lines in development, JSON in production; request id on every line."""

from __future__ import annotations

import functools
import io
import itertools
import logging
import os
import re
import sys
from typing import Any, TextIO

import structlog


class _StderrLogger:
    """Writes to whatever sys.stderr is now, and never lets a log line break the caller.

    Binding the stream once at configure time breaks when it is later replaced or closed
    (test capture, a daemonised worker), and a logging error inside a job runner must not
    take the job down with it.
    """

    def msg(self, message: str) -> None:
        try:
            print(message, file=sys.stderr, flush=True)
        except (ValueError, OSError):
            pass

    log = debug = info = warn = warning = error = critical = exception = fatal = msg


def _logger_factory(*_args: object) -> _StderrLogger:
    return _StderrLogger()


REDACTED = "[REDACTED]"
# A key is secret when one of its words (snake_case, kebab-case or camelCase) is one of
# these: "token", "access_token", "X-Api-Key", "privateKey" go; "tokens" stays. A number,
# a boolean or None under such a key is no secret (a token count) and stays too.
SECRET_WORDS = frozenset(
    {"password", "passwd", "pwd", "secret", "token", "authorization", "cookie", "credentials"}
    | {"privatekey", "apikey", "secretkey", "accesskey"}
)
SECRET_PAIRS = frozenset({("private", "key"), ("api", "key"), ("secret", "key"), ("access", "key")})
# Shapes of a secret wherever it stands in a text: a PEM private key block (or its start,
# when a message was cut), an Authorization value, a foredeck API key (fdk_<prefix>_<secret>;
# the prefix is public and kept), a signed token (itsdangerous or JWT) and a URL's password.
SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        f"-----BEGIN PRIVATE KEY-----{REDACTED}-----END PRIVATE KEY-----",
    ),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {REDACTED}"),
    (re.compile(r"\b(Basic)\s+[A-Za-z0-9+/]{8,}={0,2}"), rf"\1 {REDACTED}"),
    (re.compile(r"\b(fdk_[0-9a-f]{8}_)[A-Za-z0-9_-]+"), rf"\1{REDACTED}"),
    (re.compile(r"\.?\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), REDACTED),
    (re.compile(r"(://[^/\s:@]*:)[^/\s@]+@"), rf"\1{REDACTED}@"),
)
# Every shape above starts with one of these.
_MAY_HOLD_SECRET = re.compile(r"PRIVATE KEY|(?i:bearer)|Basic|fdk_|eyJ|://")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
# Keys structlog and the stdlib bridge use for their own objects, not for logged data.
_INTERNAL_KEYS = frozenset({"exc_info", "_record", "_from_structlog"})


def secret_key(key: object) -> bool:
    """Whether a value logged under this key name is a secret."""
    return isinstance(key, str) and _secret_name(key)


@functools.lru_cache(maxsize=4096)  # a process logs the same few hundred key names
def _secret_name(key: str) -> bool:
    words = [w.lower() for w in _WORDS.findall(key)]
    if any(w in SECRET_WORDS for w in words):
        return True
    return any(pair in SECRET_PAIRS for pair in itertools.pairwise(words))


def _hidden(key: object, value: Any) -> bool:
    return secret_key(key) and not isinstance(value, bool | int | float | None)


def redact_text(text: str) -> str:
    """The text with every secret shape in it replaced."""
    # One scan settles nearly every line (no shape can start in it); this runs per field.
    if not _MAY_HOLD_SECRET.search(text):
        return text
    for pattern, replacement in SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any, depth: int = 0) -> Any:
    """A copy with secrets replaced, by key name in mappings and by shape in text."""
    if isinstance(value, str):
        return redact_text(value)
    if depth > 32:  # a cyclic or absurdly deep value: drop it rather than recurse forever
        return "[TOO DEEP]"
    if isinstance(value, dict):
        return {k: REDACTED if _hidden(k, v) else redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(v, depth + 1) for v in value]
    if isinstance(value, BaseException | bytes):
        return redact_text(repr(value) if isinstance(value, bytes) else str(value))
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: Any) -> Any:
    """structlog processor: no secret reaches a renderer, by key name or by value shape."""
    out = {}
    # Written out for the common field types: this runs for every line, request lines included.
    for key, value in event_dict.items():
        kind = type(value)
        if kind is int or kind is float or kind is bool or value is None:
            out[key] = value
        elif key in _INTERNAL_KEYS:
            out[key] = value
        elif secret_key(key):
            out[key] = REDACTED
        elif kind is str:
            out[key] = redact_text(value) if _MAY_HOLD_SECRET.search(value) else value
        else:
            out[key] = redact(value)
    return out


def redacted_traceback(sio: TextIO, exc_info: Any) -> None:
    """structlog's plain traceback (no frame locals), with secret shapes in it replaced."""
    buffer = io.StringIO()
    structlog.dev.plain_traceback(buffer, exc_info)
    sio.write(redact_text(buffer.getvalue()))


def configure_logging(fmt: str = "console", level: str = "INFO") -> None:
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.format_exc_info)
        _json_lines_only()
    else:
        # A traceback without local variables: a frame's locals may hold a secret (a
        # service-account dict, a password) and would print it in full.
        renderer = structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=redacted_traceback
        )
    # Last of the shared chain, so the traceback text format_exc_info made is redacted too.
    shared.append(redact_secrets)
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=False,
    )
    _route_stdlib(shared, renderer, level)


def _json_lines_only() -> None:
    """Route what libraries print past logging into it, so a log shipper reads JSON only.

    The model loader draws a progress bar (tqdm) on stderr, and warnings (Celery's warning
    about running as root, deprecations) print as multi-line text.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    logging.captureWarnings(True)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler on whatever sys.stderr is now (see _StderrLogger)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _route_stdlib(
    shared: list[structlog.types.Processor], renderer: structlog.types.Processor, level: str
) -> None:
    """Lines from the stdlib loggers (alembic, uvicorn, celery, mcp, faiss…) go through the
    same processors and renderer as foredeck's own, so JSON mode prints only JSON lines."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    root = logging.getLogger()
    # Configured again (each create_app): replace our handler, leave others (test capture).
    for old in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(old)
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "aiosqlite", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
