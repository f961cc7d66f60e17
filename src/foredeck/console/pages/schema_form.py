"""The dataset schema as a form: a fieldset per column, read back into the schema document the
API validates, with each validation issue put next to the field it names.

The form keeps what was typed as text. A value becomes a JSON number only when it reads as
one; anything else goes to the generator's `validate_schema` as typed, so the message next
to the field is the one the API gives for the same document.
"""

from __future__ import annotations

import json
import re
import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import PydanticUndefined

from foredeck.generator import schemas as generator_schemas
from foredeck.generator import validate as generator_validate

# Columns a form may carry (the schema allows MAX_FIELDS; a little more lets the validator say so).
MAX_COLUMNS = 250
_COL_KEY = re.compile(r"^col-(\d+)-(\w+)$")
_INDEXED = re.compile(r"^fields\[(\d+)\](?:\.(\w+))?")


@dataclass(frozen=True)
class Input:
    """One form field: `kind` says how its text is read back."""

    name: str
    kind: str  # text, int, number, bound, select, bool, lines, names, numbers
    label: str
    help: str = ""
    # The model's default as form text: a constraint that holds it is left out of the form.
    default: Any = ""
    choices: tuple[str, ...] = ()
    # Column types the constraint applies to (None: every type).
    types: frozenset[str] | None = None


@dataclass
class FormState:
    """What the form shows: the text of every field, and the issues placed next to them."""

    top: dict[str, str]
    columns: list[dict[str, Any]]
    top_issues: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    column_issues: list[dict[str, list[dict[str, str]]]] = field(default_factory=list)
    general: list[dict[str, str]] = field(default_factory=list)
    # How the description was read (extraction notes without a column of their own).
    notes: list[dict[str, str]] = field(default_factory=list)


def _applies() -> dict[str, frozenset[str]]:
    """Which column types each constraint applies to, from the generator's own checks."""
    numeric = {t.value for t in generator_validate.NUMERIC}
    ranged = {t.value for t in generator_validate.RANGED}
    lengthed = {t.value for t in generator_validate.LENGTHED}
    return {
        "min": frozenset(ranged),
        "max": frozenset(ranged),
        "min_length": frozenset(lengthed),
        "max_length": frozenset(lengthed),
        "precision": frozenset({"float", "decimal"}),
        "distribution": frozenset(numeric),
        "mean": frozenset(numeric),
        "std": frozenset(numeric),
        "true_ratio": frozenset({"boolean"}),
        "choices": frozenset({"choice"}),
        "weights": frozenset({"choice"}),
        "pattern": frozenset({"pattern"}),
        "format": frozenset({"date", "datetime", "phone"}),
        "ref": frozenset({"reference"}),
        "llm_prompt": frozenset({"text"}),
    }


# How each FieldSpec attribute is edited; the order is the order on the page.
_COLUMN_KINDS = {
    "min": "bound",
    "max": "bound",
    "min_length": "int",
    "max_length": "int",
    "precision": "int",
    "distribution": "select",
    "mean": "number",
    "std": "number",
    "true_ratio": "number",
    "choices": "lines",
    "weights": "numbers",
    "pattern": "text",
    "format": "text",
    "ref": "text",
    "llm_prompt": "text",
    "null_ratio": "number",
    "unique": "bool",
    "locale": "text",
    "description": "text",
}
_TOP_KINDS = {
    "name": "text",
    "rows": "int",
    "chunk_size": "int",
    "format": "select",
    "seed": "int",
    "locale": "text",
    "unique_fields": "names",
}
_HELP = {
    "choices": "One value per line; numbers and true/false are read as such.",
    "weights": "Numbers separated by commas, one per choice.",
    "unique_fields": "Column names separated by commas.",
    "seed": "The same seed and schema give the same rows.",
}


def _choices(annotation: Any) -> tuple[str, ...]:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, str) and hasattr(arg, "__members__"):
            return tuple(m.value for m in arg)  # type: ignore[attr-defined]
    literal = [a for a in typing.get_args(annotation) if isinstance(a, str)]
    return tuple(literal)


def _default(info: Any) -> Any:
    return None if info.default is PydanticUndefined else info.default


def _inputs(model: Any, kinds: dict[str, str], applies: dict[str, frozenset[str]]) -> list[Input]:
    fields = model.model_fields
    return [
        Input(
            name=name,
            kind=kind,
            label=name.replace("_", " ").capitalize(),
            help=_HELP.get(name) or fields[name].description or "",
            choices=_choices(fields[name].annotation) if kind == "select" else (),
            types=applies.get(name),
            default=_text(kind, _default(fields[name])),
        )
        for name, kind in kinds.items()
    ]


def column_inputs() -> list[Input]:
    """The constraints of a column as the schema model (FieldSpec) defines them."""
    return _inputs(generator_schemas.FieldSpec, _COLUMN_KINDS, _applies())


def top_inputs() -> list[Input]:
    return _inputs(generator_schemas.DatasetSchema, _TOP_KINDS, {})


NAME_INPUT = Input(
    name="name", kind="text", label="Name", help="Letters, digits and _, not starting with a digit"
)


def field_types() -> list[str]:
    return [t.value for t in generator_schemas.FieldType]


# -- text to document ------------------------------------------------------------------------


def _number(text: str, *, whole: bool = False) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    if whole:
        return text
    try:
        return float(text)
    except ValueError:
        return text


def _scalar(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (int, float, bool, str)) else text


def _value(kind: str, text: Any) -> Any:
    """The JSON value of one field's text; None leaves the field out (its default applies)."""
    if kind == "bool":
        return True if text else None
    text = str(text or "").strip()
    if not text:
        return None
    if kind == "int":
        return _number(text, whole=True)
    if kind in ("number", "bound"):
        return _number(text)
    if kind == "lines":
        return [_scalar(line.strip()) for line in text.splitlines() if line.strip()]
    if kind == "names":
        return [p.strip() for p in text.split(",") if p.strip()]
    if kind == "numbers":
        return [_number(p.strip()) for p in text.split(",") if p.strip()]
    return text


def document(state: FormState) -> dict[str, Any]:
    """The schema document the form describes, for `validate_schema`."""
    doc: dict[str, Any] = {}
    for spec in top_inputs():
        value = _value(spec.kind, state.top.get(spec.name))
        if value is not None:
            doc[spec.name] = value
    columns = []
    for raw in state.columns:
        column: dict[str, Any] = {}
        for name, kind in (("name", "text"), ("type", "text")):
            value = _value(kind, raw.get(name))
            if value is not None:
                column[name] = value
        for spec in column_inputs():
            value = _value(spec.kind, raw.get(spec.name))
            if value is not None:
                column[spec.name] = value
        columns.append(column)
    doc["fields"] = columns
    return doc


def from_form(form: Any) -> FormState:
    """The typed text of every field of a submitted schema form."""
    top = {spec.name: str(form.get(spec.name) or "") for spec in top_inputs()}
    indices = sorted({int(m.group(1)) for key in form if (m := _COL_KEY.match(str(key)))})[
        :MAX_COLUMNS
    ]
    names = ["name", "type", *(spec.name for spec in column_inputs())]
    columns = []
    for i in indices:
        raw: dict[str, Any] = {n: str(form.get(f"col-{i}-{n}") or "") for n in names}
        raw["unique"] = form.get(f"col-{i}-unique") in ("on", "true", "1")
        # The extraction note rides along in hidden inputs so edits keep it beside its column.
        note = str(form.get(f"col-{i}-note") or "")
        if note:
            level = str(form.get(f"col-{i}-note-level") or "info")
            raw["note"] = {"message": note, "level": "warning" if level == "warning" else "info"}
        columns.append(raw)
    return FormState(top=top, columns=columns)


# -- document to text ------------------------------------------------------------------------


def _text(kind: str, value: Any) -> Any:
    if kind == "bool":
        return bool(value)
    if value is None:
        return ""
    if kind == "lines":
        return "\n".join(
            v if isinstance(v, str) and _scalar(v) == v else json.dumps(v) for v in value
        )
    if kind in ("names", "numbers"):
        return ", ".join(str(v) for v in value)
    if hasattr(value, "value"):  # an enum member
        return str(value.value)
    return str(value)


def from_document(doc: dict[str, Any]) -> FormState:
    """The form for a schema document (an extracted schema, or raw JSON loaded by the user)."""
    top = {spec.name: _text(spec.kind, doc.get(spec.name)) for spec in top_inputs()}
    columns = []
    for item in doc.get("fields") or []:
        item = item if isinstance(item, dict) else {}
        raw: dict[str, Any] = {"name": _text("text", item.get("name")), "type": item.get("type")}
        for spec in column_inputs():
            raw[spec.name] = _text(spec.kind, item.get(spec.name))
        columns.append(raw)
    return FormState(top=top, columns=columns[:MAX_COLUMNS])


def place_notes(state: FormState, notes: list[dict[str, Any]]) -> FormState:
    """Put each extraction note beside the column it made; the others above the columns."""
    by_name = {str(c.get("name")): c for c in state.columns}
    state.notes = []
    for note in notes:
        entry = {"message": str(note.get("message")), "level": str(note.get("level") or "info")}
        if note.get("phrase"):
            entry["phrase"] = str(note["phrase"])
        column = by_name.get(str(note.get("field")))
        if column is not None and "note" not in column:
            column["note"] = entry
        else:
            state.notes.append(entry)
    return state


def blank_column() -> dict[str, Any]:
    return {"name": "", "type": "string", "unique": False}


def place_issues(state: FormState, issues: list[dict[str, Any]]) -> FormState:
    """Put each validation issue next to its field: a column's input, a column, or the schema."""
    state.top_issues = {}
    state.column_issues = [{} for _ in state.columns]
    state.general = []
    top_names = {spec.name for spec in top_inputs()} | {"fields"}
    for issue in issues:
        where = str(issue.get("field") or "")
        note = {"message": str(issue.get("message")), "severity": issue.get("severity", "error")}
        indexed = _INDEXED.match(where)
        if indexed and int(indexed.group(1)) < len(state.columns):
            attr = indexed.group(2) or "_column"
            state.column_issues[int(indexed.group(1))].setdefault(attr, []).append(note)
            continue
        if where.startswith("fields."):
            name = where[len("fields.") :]
            match = next((i for i, c in enumerate(state.columns) if c.get("name") == name), None)
            if match is not None:
                state.column_issues[match].setdefault("_column", []).append(note)
                continue
        top = where.split(".", 1)[0].split("[", 1)[0]
        if top in top_names:
            state.top_issues.setdefault(top, []).append(note)
        else:
            state.general.append({**note, "field": where})
    return state


def shown(spec: Input, column: dict[str, Any]) -> bool:
    """A constraint is shown when it applies to the column's type, or when it holds a value
    other than its default (so nothing typed is ever hidden)."""
    if spec.types is None or column.get("type") in spec.types:
        return True
    value = column.get(spec.name)
    return bool(value) and value != spec.default
