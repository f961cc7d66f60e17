"""Extraction results: the rules' schema and notes, and notes for a schema the LLM wrote, so
both paths tell the user what was understood and what was not."""

from __future__ import annotations

from typing import Any

from foredeck.errors import AppError, ValidationFailed
from foredeck.generator import rules
from foredeck.generator.describe import describe
from foredeck.generator.schemas import ExtractNote


def _note(note: rules.Note) -> ExtractNote:
    return ExtractNote(
        field=note.field,
        phrase=note.phrase,
        message=note.message,
        level="warning" if note.level == "warning" else "info",
    )


def by_rules(description: str) -> tuple[dict[str, Any], list[str], list[ExtractNote]]:
    """The offline schema; 422 when not one phrase could be read as a field."""
    result = rules.extract(description)
    fields = result.schema["fields"]
    if not fields or len(result.uninterpreted) == len(fields):
        raise ValidationFailed(
            "No field could be read from the description; name the columns, e.g. "
            "'1000 customers with name, email, age between 18 and 90'",
            details=[
                {"field": "description", "message": f"not understood: {p}"}
                for p in result.uninterpreted
            ]
            or [{"field": "description", "message": "no fields named"}],
            code="EXTRACTION_FAILED",
        )
    return result.schema, result.uninterpreted, [_note(n) for n in result.notes]


def llm_notes(description: str, data: dict[str, Any]) -> list[ExtractNote]:
    """A note per field the LLM wrote, and a warning for every phrase of the description
    that has no column of that name (the model may have merged or dropped it)."""
    fields = [f for f in data.get("fields") or [] if isinstance(f, dict)]
    notes = [
        ExtractNote(field=str(f.get("name")), message=describe(f) + " (written by the LLM)")
        for f in fields
    ]
    names = {str(f.get("name")) for f in fields}
    offline = rules.extract(description)
    for spec, note in zip(offline.schema["fields"], offline.notes, strict=True):
        if spec["name"] not in names:
            notes.append(
                ExtractNote(
                    phrase=note.phrase,
                    message="no column of its own in the LLM's schema; check it is covered",
                    level="warning",
                )
            )
    return notes


def fallback_note(model: str, exc: AppError) -> ExtractNote:
    return ExtractNote(
        message=f"The LLM ({model}) failed: {exc.message}; the offline rules read the "
        "description instead",
        level="warning",
    )
