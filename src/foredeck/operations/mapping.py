"""Column mapping: checked against the header before a job starts, then applied row by row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from foredeck.errors import ValidationFailed
from foredeck.operations.schemas import ColumnMapping
from foredeck.records.schemas import MAX_CONTENT_CHARS, MemoryType

CONTENT_NAMES = ("content", "text", "body")
MEMORY_TYPES = frozenset(t.value for t in MemoryType)
# (row_no, content, memory_type, external_id, metadata JSON, content hash) or an error message.
StagedRow = tuple[int, str, str, str | None, str, str]


@dataclass
class Resolved:
    content: str
    external_id: str | None
    memory_type: str | None
    metadata_json: str | None
    metadata: list[str] = field(default_factory=list)
    default_type: str = "note"

    def used(self) -> list[str]:
        cols = [
            self.content,
            self.external_id,
            self.memory_type,
            self.metadata_json,
            *self.metadata,
        ]
        return [c for c in dict.fromkeys(cols) if c]


def resolve(mapping: ColumnMapping, columns: list[str]) -> Resolved:
    """Fill unset fields by column name and check every named column exists (422 if not)."""
    present = set(columns)
    errors: list[dict[str, str]] = []

    def need(field_name: str, column: str | None) -> None:
        if column is not None and column not in present:
            errors.append(
                {
                    "field": f"mapping.{field_name}",
                    "message": f"no column {column!r}; the columns are {', '.join(columns)}",
                }
            )

    content = mapping.content or next((c for c in CONTENT_NAMES if c in present), None)
    if content is None:
        errors.append(
            {
                "field": "mapping.content",
                "message": "no content column found; name one (columns: "
                + ", ".join(columns)
                + ")",
            }
        )
    need("content", mapping.content)
    need("external_id", mapping.external_id)
    need("memory_type", mapping.memory_type)
    need("metadata_json", mapping.metadata_json)
    external_id = mapping.external_id or ("external_id" if "external_id" in present else None)
    memory_type = mapping.memory_type or ("memory_type" if "memory_type" in present else None)
    metadata_json = mapping.metadata_json
    meta_cols: list[str] = []
    if mapping.metadata == "*":
        taken = {content, external_id, memory_type, metadata_json}
        meta_cols = [c for c in columns if c not in taken]
    elif mapping.metadata:
        for i, col in enumerate(mapping.metadata):
            need(f"metadata.{i}", col)
        meta_cols = list(mapping.metadata)
    if metadata_json is None and "metadata" in present and "metadata" not in meta_cols:
        metadata_json = "metadata"
    if errors:
        raise ValidationFailed("The mapping does not fit the file's columns", details=errors)
    assert content is not None
    return Resolved(
        content=content,
        external_id=external_id,
        memory_type=memory_type,
        metadata_json=metadata_json,
        metadata=meta_cols,
        default_type=mapping.default_memory_type.value,
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def converter(
    resolved: Resolved, columns: list[str], *, positional: bool
) -> Callable[[int, Any], StagedRow | str]:
    """A function turning one source row into a staged row, or into the reason it is skipped."""
    index = {c: i for i, c in enumerate(columns)}
    if positional:

        def getter(name: str) -> Callable[[Any], Any]:
            i = index[name]
            return lambda row: row[i]

    else:

        def getter(name: str) -> Callable[[Any], Any]:
            return lambda row: row.get(name)

    get_content = getter(resolved.content)
    get_ext = getter(resolved.external_id) if resolved.external_id else None
    get_type = getter(resolved.memory_type) if resolved.memory_type else None
    get_meta_json = getter(resolved.metadata_json) if resolved.metadata_json else None
    meta_getters = [(c, getter(c)) for c in resolved.metadata]
    default_type = resolved.default_type
    sha256 = hashlib.sha256
    dumps = json.dumps

    def convert(row_no: int, row: Any) -> StagedRow | str:
        content = _text(get_content(row))
        if not content or not content.strip():
            return "content is empty"
        if len(content) > MAX_CONTENT_CHARS:
            return f"content is longer than {MAX_CONTENT_CHARS} characters"
        ext = None
        if get_ext is not None:
            ext = _text(get_ext(row)) or None
            if ext is not None and len(ext) > 256:
                return "external_id is longer than 256 characters"
        mtype = default_type
        if get_type is not None:
            raw = _text(get_type(row))
            if raw:
                mtype = raw.strip().lower()
                if mtype not in MEMORY_TYPES:
                    return f"memory_type {raw!r} is not one of {', '.join(sorted(MEMORY_TYPES))}"
        if get_meta_json is None and not meta_getters:
            meta_text = "{}"
        else:
            meta: dict[str, Any] = {}
            if get_meta_json is not None:
                raw_meta = get_meta_json(row)
                if isinstance(raw_meta, str) and raw_meta.strip():
                    try:
                        raw_meta = json.loads(raw_meta)
                    except json.JSONDecodeError:
                        return f"{resolved.metadata_json} is not valid JSON"
                if isinstance(raw_meta, dict):
                    meta.update(raw_meta)
                elif raw_meta not in (None, ""):
                    return f"{resolved.metadata_json} is not a JSON object"
            for name, get in meta_getters:
                value = get(row)
                if value is not None and value != "":
                    meta[name] = value
            meta_text = dumps(meta, default=str)
        return (
            row_no,
            content,
            mtype,
            ext,
            meta_text,
            sha256(content.encode("utf-8")).hexdigest(),
        )

    return convert
