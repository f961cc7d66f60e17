"""Column mapping: checked against the header before a job starts, then applied row by row."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from operator import itemgetter, methodcaller
from typing import Any

from foredeck.errors import ValidationFailed
from foredeck.kit import safejson
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


class RowRefused(ValueError):
    """One row's value cannot be imported; the message is its per-row error."""


def _kind(value: Any) -> str | None:
    """What a value is, when it cannot stand for a text field (None when it can)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bytes | bytearray):
        return "binary data"
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    return None


def _text(value: Any, name: str) -> str | None:
    """A non-string value as text: numbers become their text; lists, objects, booleans and
    binary data are refused (coercing them would hide a wrong mapping or a broken file)."""
    if value is None or isinstance(value, str):
        return value
    kind = _kind(value)
    if kind is not None:
        raise RowRefused(f"{name} is {kind}, not text")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def bad_chars(text: str) -> str | None:
    """Why text cannot be stored the same way on SQLite and PostgreSQL, or None."""
    if "\x00" in text:
        return "contains a NUL character (U+0000)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate (not valid Unicode)"
    return None


def _bad_in(value: Any) -> str | None:
    """bad_chars for every key and string inside a metadata value (iterative)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if problem := bad_chars(item):
                return problem
        elif isinstance(item, dict):
            stack.extend(str(k) for k in item)
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return None


def _escaped_oddity(meta_text: str) -> bool:
    """Whether ASCII JSON may hide a NUL or a lone surrogate (both show as \\u escapes)."""
    return "\\u0000" in meta_text or "\\ud" in meta_text


def converter(
    resolved: Resolved, columns: list[str], *, positional: bool
) -> Callable[[int, Any], StagedRow | str]:
    """A function turning one source row into a staged row, or into the reason it is skipped."""
    convert = _converter(resolved, columns, positional=positional)

    def checked(row_no: int, row: Any) -> StagedRow | str:
        try:
            return convert(row_no, row)
        except RowRefused as exc:
            return str(exc)

    return checked


def _converter(
    resolved: Resolved, columns: list[str], *, positional: bool
) -> Callable[[int, Any], StagedRow | str]:
    index = {c: i for i, c in enumerate(columns)}

    def getter(name: str | None) -> Callable[[Any], Any] | None:
        if name is None:
            return None
        # itemgetter runs in C: this function is called for every imported row.
        return itemgetter(index[name]) if positional else methodcaller("get", name)

    get_content = getter(resolved.content)
    get_ext = getter(resolved.external_id)
    get_type = getter(resolved.memory_type)
    get_meta_json = getter(resolved.metadata_json)
    meta_getters = [(c, getter(c)) for c in resolved.metadata]
    default_type = resolved.default_type
    sha256 = hashlib.sha256
    # One encoder for all rows (json.dumps with options builds a new one per call); its
    # output matches what the ORM writes for the same dict.
    encode = json.JSONEncoder(default=str, allow_nan=False).encode
    escape: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
    meta_keys = [(escape(name), get) for name, get in meta_getters]
    assert get_content is not None

    def convert(row_no: int, row: Any) -> StagedRow | str:
        content = get_content(row)
        if type(content) is not str:
            content = _text(content, "content")
        if not content or content.isspace():
            return "content is empty"
        if len(content) > MAX_CONTENT_CHARS:
            return f"content is longer than {MAX_CONTENT_CHARS} characters"
        if "\x00" in content:
            return "content contains a NUL character (U+0000)"
        try:
            content_hash = sha256(content.encode("utf-8")).hexdigest()
        except UnicodeEncodeError:
            return "content contains an unpaired surrogate (not valid Unicode)"
        ext = None
        if get_ext is not None:
            ext = get_ext(row)
            if type(ext) is not str:
                ext = _text(ext, "external_id")
            if not ext:
                ext = None
            elif len(ext) > 256:
                return "external_id is longer than 256 characters"
            elif problem := bad_chars(ext):
                return f"external_id {problem}"
        mtype = default_type
        if get_type is not None:
            raw = get_type(row)
            if type(raw) is not str:
                raw = _text(raw, "memory_type")
            if raw:
                mtype = raw if raw in MEMORY_TYPES else raw.strip().lower()
                if mtype not in MEMORY_TYPES:
                    shown = ascii(raw[:40])
                    return f"memory_type {shown} is not one of {', '.join(sorted(MEMORY_TYPES))}"
        if get_meta_json is None and not meta_getters:
            return (row_no, content, mtype, ext, "{}", content_hash)
        meta: dict[str, Any] = {}
        if get_meta_json is not None:
            raw_meta = get_meta_json(row)
            if isinstance(raw_meta, str) and raw_meta.strip():
                try:
                    raw_meta = safejson.loads(raw_meta)
                except safejson.JSONLimitError as exc:
                    return f"{resolved.metadata_json}: {exc}"
                except ValueError:
                    return f"{resolved.metadata_json} is not valid JSON"
            if isinstance(raw_meta, dict):
                meta.update(raw_meta)
            elif raw_meta not in (None, ""):
                return f"{resolved.metadata_json} is not a JSON object"
        if get_meta_json is None:
            # Plain text cells (CSV) are escaped directly: the same JSON, several times faster.
            parts: list[str] = []
            plain = True
            for key_json, get in meta_keys:
                value = get(row)  # type: ignore[misc]
                if type(value) is str:
                    if value:
                        parts.append(f"{key_json}: {escape(value)}")
                elif value is not None:
                    plain = False
                    break
            if plain:
                meta_text = "{" + ", ".join(parts) + "}"
                if _escaped_oddity(meta_text):
                    cells = [get(row) for _, get in meta_keys]  # type: ignore[misc]
                    if problem := _bad_in(cells):
                        return f"metadata {problem}"
                return (row_no, content, mtype, ext, meta_text, content_hash)
        for name, get in meta_getters:
            value = get(row)  # type: ignore[misc]
            if value is not None and value != "":
                meta[name] = value
        try:
            meta_text = encode(meta)
        except ValueError:
            return "metadata holds NaN or an infinite number, which JSON cannot store"
        except RecursionError:
            return f"metadata nests deeper than {safejson.MAX_DEPTH} levels"
        if _escaped_oddity(meta_text) and (problem := _bad_in(meta)):
            return f"metadata {problem}"
        return (row_no, content, mtype, ext, meta_text, content_hash)

    return convert
