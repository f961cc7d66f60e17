"""Write docs/configuration.md from foredeck.config.Config, so the table never drifts."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic_core import PydanticUndefined

from foredeck.config import Config

HEADER = """# Configuration

Process configuration is read from environment variables with the `FOREDECK_` prefix (list and
map values as JSON). It says how the process starts; what an operator tunes at run time (sheets,
credentials paths, the embedding model, index thresholds, retention, LLM endpoint) lives in the
database as validated settings sections — see [settings.md](settings.md).
Generated from `foredeck.config.Config` by `scripts/gen_config_docs.py`.

| variable | default | type |
|---|---|---|
"""


FOOTER = """
## Logs

- `FOREDECK_LOG_FORMAT`: `console` (the default in development) or `json` (the default
  otherwise). In JSON mode every line on stderr is one JSON object, the lines of uvicorn,
  alembic, Celery, mcp and faiss included (they go through the same structlog renderer), and
  `foredeck serve` / `foredeck worker` print no text banner.
- `FOREDECK_LOG_LEVEL`: `DEBUG` also shows the access lines of health probes and `/metrics`.
- `FOREDECK_ACCESS_LOG`: one `http_request` line per request (method, route template, status,
  duration, bytes, request id, principal); `false` turns it off, the HTTP metrics still count.

The access log fields, the `/metrics` families and the probes' checks are described in
[observability.md](observability.md).
"""


def _default(field) -> str:  # type: ignore[no-untyped-def]
    if field.default_factory is not None:
        value = field.default_factory()
    elif field.default is PydanticUndefined:
        return "required"
    else:
        value = field.default
    if value is None:
        return "unset"
    if isinstance(value, (dict, list)):
        return f"`{json.dumps(value)}`"
    return f"`{getattr(value, 'value', value)}`"


def render() -> str:
    rows = []
    for name, field in Config.model_fields.items():
        members = getattr(field.annotation, "__members__", None)
        annotation = str(field.annotation).replace("typing.", "").replace("pathlib.", "")
        if members:
            annotation = " / ".join(members)
        annotation = annotation.replace("<class '", "").replace("'>", "").replace("|", "or")
        rows.append(f"| `FOREDECK_{name.upper()}` | {_default(field)} | {annotation} |")
    return HEADER + "\n".join(rows) + "\n" + FOOTER


if __name__ == "__main__":
    Path("docs/configuration.md").write_text(render())
