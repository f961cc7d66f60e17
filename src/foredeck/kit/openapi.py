"""The OpenAPI document, made to tell the truth where FastAPI's own generation does not.

Two fixes, applied once to the generated document:
- a schema that carries its own `$defs` (a body documented through `openapi_extra`, from
  `model_json_schema()`) has them moved to `components/schemas`, and its `#/$defs/...`
  references rewritten, so every `$ref` resolves where OpenAPI tools look;
- every operation with a request body documents 400: a body that is not UTF-8 or not a form
  the parser can read is refused with 400 before validation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

COMPONENTS = "#/components/schemas/"
BAD_REQUEST = {
    "description": "The body could not be read (not UTF-8, or a malformed form)",
    "content": {"application/json": {"schema": {"$ref": f"{COMPONENTS}ErrorEnvelope"}}},
}


def install(app: FastAPI) -> None:
    """Post-process app.openapi() once, on first use."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            _hoist_defs(schema)
            _document_bad_request(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _hoist_defs(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    renamed: dict[str, str] = {}

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for name, definition in (node.pop("$defs", None) or {}).items():
                collect(definition)
                # Compared with its references already pointing where they will point.
                rewrite(definition)
                target = name
                while target in components and components[target] != definition:
                    target += "_"
                components[target] = definition
                renamed[name] = target
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    def rewrite(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                node["$ref"] = COMPONENTS + renamed.get(name, name)
            for value in node.values():
                rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    collect(schema["paths"])
    for definition in list(components.values()):
        collect(definition)
    rewrite(schema)


def _document_bad_request(schema: dict[str, Any]) -> None:
    for item in schema["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("400", BAD_REQUEST)
