"""Settings: a form per section, validated by the settings service with per-field errors."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response

from foredeck.auth.schemas import Role
from foredeck.console.web import (
    ConsoleRoute,
    can,
    page,
    principal_of,
    publish_after,
    require,
    toast_headers,
)
from foredeck.errors import ValidationFailed
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime
from foredeck.settings import router as settings_router
from foredeck.settings import service as settings_service

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def edit_role() -> Role:
    """Who may change settings: the API's own rule (foredeck.settings.router.EDIT_ROLE)."""
    return settings_router.EDIT_ROLE


def _edit_rights(request: Request) -> dict[str, Any]:
    role = edit_role()
    return {"can_edit": can(principal_of(request), role), "edit_role": role.value}


def _label(title: str) -> str:
    title = title.replace("Hnsw", "HNSW").replace("Url", "URL").replace("Ef ", "ef ")
    return title[:-2] + " (seconds)" if title.endswith(" S") else title


def describe_fields(model: Any) -> list[dict[str, Any]]:
    """Form fields from a section model's JSON schema: kind, choices, help text."""
    schema = model.model_json_schema()
    fields = []
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf", [prop])
        types = [o.get("type") for o in options]
        nullable = "null" in types
        main = next((o for o in options if o.get("type") != "null"), prop)
        kind = main.get("type", "string")
        if kind in ("array", "object") or "$ref" in main:
            kind = "json"
        fields.append(
            {
                "name": name,
                "label": _label(prop.get("title", name)),
                "kind": "choice" if "enum" in main else kind,
                "choices": main.get("enum", []),
                "nullable": nullable,
                "help": prop.get("description", ""),
                "min": main.get("minimum"),
                "max": main.get("maximum"),
            }
        )
    return fields


def form_value(fields: list[dict[str, Any]], form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The section's value from the submitted form; JSON fields that do not parse are errors."""
    value: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        name = field["name"]
        raw = form.get(name)
        if field["kind"] == "boolean":
            value[name] = raw in ("on", "true", "1")
            continue
        text = str(raw).strip() if raw is not None else ""
        if field["kind"] == "json":
            try:
                value[name] = json.loads(text) if text else ([] if name != "concurrency" else {})
            except json.JSONDecodeError as exc:
                errors[name] = f"Not valid JSON: {exc.msg} (line {exc.lineno})"
            continue
        if text == "" and field["nullable"]:
            value[name] = None
        else:
            value[name] = text
    return value, errors


def _raw_for_form(fields: list[dict[str, Any]], value: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for field in fields:
        v = value.get(field["name"])
        if field["kind"] == "json":
            out[field["name"]] = v if isinstance(v, str) else json.dumps(v, indent=2)
        else:
            out[field["name"]] = "" if v is None else v
    return out


def _top_level(details: list[dict[str, Any]], fields: list[dict[str, Any]]) -> dict[str, str]:
    names = {f["name"] for f in fields}
    errors: dict[str, str] = {}
    for d in details:
        path = str(d.get("field") or "")
        top = path.split(".", 1)[0]
        key = top if top in names else "_section"
        message = str(d.get("message"))
        if key != top or path != top:
            message = f"{path}: {message}" if path else message
        errors[key] = f"{errors[key]}; {message}" if key in errors else message
    return errors


async def _section_card(
    request: Request,
    session: Any,
    name: str,
    *,
    typed: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    checked: Any = None,
) -> dict[str, Any]:
    settings = settings_service
    config = get_runtime(request).config
    state = await settings.section_state(session, name, config=config)
    fields = describe_fields(settings.section_model(name))
    shown_errors = dict(errors or {})
    if errors is None and not state.valid and state.configured:
        shown_errors = _top_level([e.model_dump() for e in state.errors], fields)
    return {
        "name": name,
        "state": state,
        "fields": fields,
        "vals": _raw_for_form(fields, typed if typed is not None else state.value),
        "errors": shown_errors,
        "checked": checked,
        "doc": (settings.section_model(name).__doc__ or "").strip(),
    }


@router.get("/ui/settings")
async def settings_page(request: Request, session: SessionDep) -> Response:
    """Every settings section with its validity and when it was last validated."""
    settings = settings_service
    from foredeck.settings.schemas import SECTIONS

    cards = [await _section_card(request, session, name) for name in SECTIONS]
    del settings
    return page(
        request,
        "settings.html",
        "settings",
        **_edit_rights(request),
        title="Settings",
        topics="settings",
        cards=cards,
    )


@router.post("/ui/settings/{name}")
async def save_section(request: Request, session: SessionDep, name: str) -> Response:
    """Validate (operator) or store (admin) one section; errors come back inline."""
    principal = require(request, Role.operator)
    settings = settings_service
    fields = describe_fields(settings.section_model(name))
    form = await request.form()
    action = str(form.get("intent") or "save")
    if action != "validate":
        require(request, edit_role())
    if can(principal, edit_role()):
        value, errors = form_value(fields, form)
    else:
        # Read-only form (disabled inputs are not even sent): check the stored value, as the
        # API's validate does without a body.
        stored = await settings.get_section(session, name)
        value, errors = stored.model_dump(mode="json"), {}
    config = get_runtime(request).config
    checked = None
    status = 200
    headers: dict[str, str] = {}
    if not errors and action == "validate":
        _parsed, result = await settings.validate_value(session, name, value, config=config)
        errors = _top_level([e.model_dump() for e in result.errors], fields)
        checked = result
        headers = toast_headers(
            f"{name}: valid" if result.valid else f"{name}: not valid",
            "success" if result.valid else "error",
        )
    elif not errors:
        try:
            await settings.put_section(
                session, name, value, config=config, updated_by=principal.username
            )
            headers = toast_headers(f"Saved the {name} settings")
        except ValidationFailed as exc:
            errors = _top_level(exc.details, fields)
    if errors:
        status = 422
        if not headers:
            headers = toast_headers(f"The {name} settings are not valid; see the fields", "error")
    card = await _section_card(
        request, session, name, typed=value if errors else None, errors=errors, checked=checked
    )
    response = page(
        request,
        "settings.html",
        "settings",
        block="section_card",
        status_code=status,
        headers=headers,
        **_edit_rights(request),
        card=card,
    )
    if status == 200 and action == "save":
        who = principal_of(request)
        publish_after(response, request, "settings", {"section": name, "by": who and who.username})
    return response
