"""A registry resource's create and update models as form fields, and a posted form read back
into the body the API would take. The API's own models and CRUD checks judge the result."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticUndefined

from foredeck.console.pages.settings import describe_fields
from foredeck.errors import AppError

# Columns shown in a list: the first few plain ones (JSON and long text only on the row page).
LIST_COLUMNS = 6
LONG_TEXT = {"description", "notes", "prompt"}


def fields_of(model: type[BaseModel]) -> list[dict[str, Any]]:
    """describe_fields plus whether a value is required and its default, as form text."""
    fields = describe_fields(model)
    for field in fields:
        info = model.model_fields[field["name"]]
        field["required"] = info.is_required()
        default = None if info.default is PydanticUndefined else info.default
        field["default"] = text_of(field, default)
        field["long"] = field["name"] in LONG_TEXT
    return fields


def text_of(field: dict[str, Any], value: Any) -> Any:
    """A stored value as the form shows it."""
    if field["kind"] == "boolean":
        return bool(value)
    if value is None:
        return ""
    if field["kind"] == "json":
        return json.dumps(value, indent=2)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def form_texts(fields: list[dict[str, Any]], form: Any) -> dict[str, Any]:
    """What was typed, field by field (to show again when something is wrong)."""
    texts: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field["name"])
        if field["kind"] == "boolean":
            texts[field["name"]] = raw in ("on", "true", "1")
        else:
            texts[field["name"]] = str(raw) if raw is not None else ""
    return texts


def body_of(
    fields: list[dict[str, Any]], texts: dict[str, Any], *, partial: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """The request body from the typed texts. An empty field is left out of a new row (its
    default applies) and clears a nullable one on an edit; JSON that does not parse is an
    error next to its field."""
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        name, text = field["name"], texts.get(field["name"])
        if field["kind"] == "boolean":
            body[name] = bool(text)
            continue
        text = (text or "").strip()
        if text == "":
            if partial and field["kind"] != "json":
                body[name] = None
            continue
        if field["kind"] == "json":
            try:
                body[name] = json.loads(text)
            except json.JSONDecodeError as exc:
                errors[name] = f"Not valid JSON: {exc.msg} (line {exc.lineno})"
            continue
        body[name] = text
    return body, errors


def validation_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic's messages by field (the first per field; nested paths name the top field)."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "_form"
        errors.setdefault(field, err["msg"])
    return errors


def app_errors(exc: AppError, fields: list[dict[str, Any]]) -> dict[str, str]:
    """A CRUD refusal (missing reference, duplicate, null) next to the fields it names."""
    names = {f["name"] for f in fields}
    errors: dict[str, str] = {}
    for detail in exc.details or []:
        field = str(detail.get("field") or "")
        key = field if field in names else "_form"
        errors.setdefault(key, str(detail.get("message") or exc.message))
    if not errors or "_form" in errors:
        errors["_form"] = exc.message
    elif exc.code == "DUPLICATE":
        errors = {k: f"{v}: {exc.message}" for k, v in errors.items()}
    return errors
