"""Schema validation: everything that can be known before a job starts, reported as issues."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from foredeck.errors import ValidationFailed
from foredeck.generator.columns import ColumnError
from foredeck.generator.fieldtypes import make_column
from foredeck.generator.pools import LOCALES
from foredeck.generator.schemas import (
    DatasetSchema,
    FieldSpec,
    FieldType,
    Issue,
    ValidationReport,
)

NUMERIC = {FieldType.integer, FieldType.float, FieldType.decimal}
RANGED = NUMERIC | {FieldType.date, FieldType.datetime}
LENGTHED = {FieldType.string, FieldType.text, FieldType.lorem}
MAX_CHUNKS = 100_000


@dataclass(frozen=True)
class Limits:
    max_rows: int = 10_000_000
    max_chunk_size: int = 1_000_000


def _field_issues(spec: FieldSpec, schema: DatasetSchema) -> list[Issue]:
    where = f"fields.{spec.name}"
    issues: list[Issue] = []

    def bad(message: str, code: str = "BAD_CONSTRAINT", severity: str = "error") -> None:
        issues.append(Issue(field=where, message=message, code=code, severity=severity))  # type: ignore[arg-type]

    if (spec.min is not None or spec.max is not None) and spec.type not in RANGED:
        bad(f"min/max do not apply to {spec.type.value}", "IGNORED_CONSTRAINT", "warning")
    if (spec.min_length is not None or spec.max_length is not None) and spec.type not in LENGTHED:
        bad(
            f"min_length/max_length do not apply to {spec.type.value}",
            "IGNORED_CONSTRAINT",
            "warning",
        )
    if spec.choices is not None and spec.type != FieldType.choice:
        bad(
            f"choices only apply to type choice, not {spec.type.value}",
            "IGNORED_CONSTRAINT",
            "warning",
        )
    if spec.weights is not None and spec.choices is None:
        bad("weights need choices")
    if spec.pattern is not None and spec.type != FieldType.pattern:
        bad("pattern only applies to type pattern", "IGNORED_CONSTRAINT", "warning")
    if spec.locale is not None and spec.locale not in LOCALES:
        bad(f"unknown locale {spec.locale!r}", "UNKNOWN_LOCALE")
    if spec.type == FieldType.reference:
        target = next((f for f in schema.fields if f.name == spec.ref), None)
        if spec.ref is None:
            bad("a reference field needs `ref`, the field whose values it takes")
        elif target is None:
            bad(f"ref {spec.ref!r} is not a field of this schema", "UNKNOWN_REF")
        elif target.type == FieldType.reference:
            bad("a reference cannot point at another reference", "UNKNOWN_REF")
        if schema.is_unique(spec):
            bad("a reference samples existing values, so it cannot be unique", "IMPOSSIBLE_UNIQUE")
        return issues
    if spec.ref is not None:
        bad("ref only applies to type reference", "IGNORED_CONSTRAINT", "warning")
    if spec.llm_prompt is not None and spec.type != FieldType.text:
        bad("llm_prompt only applies to type text", "IGNORED_CONSTRAINT", "warning")
    try:
        column = make_column(spec, schema.locale)
    except ColumnError as exc:
        bad(str(exc))
        return issues
    if schema.is_unique(spec):
        capacity = column.capacity()
        if capacity is None:
            note = column.unique_note or f"unique is not supported for {spec.type.value}"
            bad(note, "IMPOSSIBLE_UNIQUE")
        elif capacity < schema.rows:
            bad(
                f"unique {spec.type.value} has only {capacity} possible values, "
                f"fewer than the {schema.rows} rows asked for",
                "IMPOSSIBLE_UNIQUE",
            )
    if spec.null_ratio >= 1:
        bad("null_ratio 1 makes every value null", "ALL_NULL", "warning")
    return issues


def check(schema: DatasetSchema, limits: Limits) -> list[Issue]:
    """The issues of a parsed schema (errors and warnings)."""
    issues: list[Issue] = []
    if schema.rows > limits.max_rows:
        issues.append(
            Issue(field="rows", message=f"rows must be at most {limits.max_rows}", code="TOO_LARGE")
        )
    if schema.chunk_size > limits.max_chunk_size:
        issues.append(
            Issue(
                field="chunk_size",
                message=f"chunk_size must be at most {limits.max_chunk_size}",
                code="TOO_LARGE",
            )
        )
    if schema.chunk_count > MAX_CHUNKS:
        issues.append(
            Issue(
                field="chunk_size",
                message=f"{schema.chunk_count} chunks is too many; raise chunk_size "
                f"so there are at most {MAX_CHUNKS}",
                code="TOO_MANY_CHUNKS",
            )
        )
    if schema.locale not in LOCALES:
        issues.append(
            Issue(
                field="locale", message=f"unknown locale {schema.locale!r}", code="UNKNOWN_LOCALE"
            )
        )
        return issues
    names = {f.name for f in schema.fields}
    for name in schema.unique_fields:
        if name not in names:
            issues.append(
                Issue(
                    field="unique_fields",
                    message=f"{name!r} is not a field of this schema",
                    code="UNKNOWN_FIELD",
                )
            )
    for spec in schema.fields:
        issues.extend(_field_issues(spec, schema))
    return issues


def report(data: dict[str, Any], limits: Limits) -> ValidationReport:
    """Parse and check a schema document; structural problems become issues too."""
    try:
        schema = DatasetSchema.model_validate(data)
    except ValidationError as exc:
        issues = [
            Issue(field=_loc(err["loc"]) or None, message=err["msg"], code="INVALID")
            for err in exc.errors()
        ]
        return ValidationReport(valid=False, issues=issues)
    issues = check(schema, limits)
    return ValidationReport(
        valid=not any(i.severity == "error" for i in issues), issues=issues, schema=schema
    )


def require_valid(schema: DatasetSchema, limits: Limits) -> None:
    """Raise 422 with every error when the schema cannot be generated."""
    errors = [i for i in check(schema, limits) if i.severity == "error"]
    if errors:
        raise ValidationFailed(
            "The dataset schema cannot be generated: " + errors[0].message,
            details=[{"field": i.field, "message": i.message} for i in errors],
            code="INVALID_SCHEMA",
        )


def _loc(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        parts.append(f"[{part}]" if isinstance(part, int) else ("." if parts else "") + str(part))
    return "".join(parts)
