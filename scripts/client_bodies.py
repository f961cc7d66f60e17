"""Request bodies of the generated client: the JSON body and multipart/form-data fields."""

from __future__ import annotations

from typing import Any

from client_types import Namer, render_type, schema_type, walk_types
from pydantic import BaseModel

from foredeck.mcp.operations import python_ident

JSON = "application/json"
MULTIPART = "multipart/form-data"


def bodies(op: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The JSON schema and the multipart/form-data schema an operation's body offers."""
    content = (op.openapi.get("requestBody") or {}).get("content", {})
    other = set(content) - {JSON, MULTIPART}
    if other:
        raise SystemExit(f"{op.name}: no client support for a {sorted(other)} request body")
    json_schema = content[JSON].get("schema", {}) if JSON in content else None
    form = content[MULTIPART].get("schema") if MULTIPART in content else None
    return json_schema, form


def json_model(op: Any, schema: dict[str, Any], namer: Namer) -> Any:
    """The body's model: the route's own, or (for a route that reads the raw request and
    documents its body with openapi_extra) the contract named by the schema's title."""
    if op.body_type is not None:
        return op.body_type
    found = namer.used.get(schema.get("title", ""))
    return found if isinstance(found, type) and issubclass(found, BaseModel) else None


def model_input(tp: Any, namer: Namer, imports: set[str]) -> str:
    """An annotation for a value sent as a model: the model or a plain dict."""
    text = render_type(tp, namer, imports) if tp is not None else "Any"
    if text == "Any":
        return text
    parts = text.split(" | ")
    models: set[type] = set()
    walk_types(tp, models)
    if any(issubclass(m, BaseModel) for m in models):
        parts.append("dict[str, Any]")
    # None last, added by optional() where the value may be left out.
    unique = [p for p in dict.fromkeys(parts) if p != "None"]
    return " | ".join(unique) + (" | None" if "None" in parts else "")


def optional(annotation: str) -> str:
    """The annotation, allowing None."""
    parts = annotation.split(" | ")
    if annotation == "Any" or "None" in parts:
        return annotation
    return f"{annotation} | None"


def form_fields(
    form: dict[str, Any], model: Any, alone: bool, namer: Namer, imports: set[str]
) -> tuple[list[str], list[str], list[str], list[str]]:
    """(positional args, keyword-only args, upload items, form items) of a multipart body.

    A form field the JSON body's model also has takes that field's type (the client sends
    it as JSON text); the rest follow their schema. With no JSON alternative (`alone`), the
    required fields are required arguments; otherwise every field is optional."""
    required = set(form.get("required", [])) if alone else set()
    fields = getattr(model, "model_fields", {})
    positional: list[str] = []
    keyword: list[str] = []
    uploads: list[str] = []
    values: list[str] = []
    for name, prop in form.get("properties", {}).items():
        ident = python_ident(name)
        if prop.get("format") == "binary":
            ptype = "Upload"
            uploads.append(f"{name!r}: {ident}")
        else:
            info = fields.get(name)
            ptype = (
                model_input(info.annotation, namer, imports) if info else schema_type(prop, imports)
            )
            values.append(f"{name!r}: {ident}")
        if name in required and prop.get("format") == "binary":
            positional.append(f"{ident}: {ptype}")
        elif name in required:
            keyword.append(f"{ident}: {ptype}")
        else:
            keyword.append(f"{ident}: {optional(ptype)} = None")
    return positional, keyword, uploads, values
