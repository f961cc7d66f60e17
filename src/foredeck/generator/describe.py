"""A field spec in words, for the notes that tell the user how a description was read."""

from __future__ import annotations

from typing import Any

NOT_UNDERSTOOD = "not understood: made a text column; change its type or remove it"


def _bounds(spec: dict[str, Any]) -> str:
    lo, hi = spec.get("min"), spec.get("max")
    if lo is not None and hi is not None:
        return f" {lo} to {hi}"
    if lo is not None:
        return f" from {lo}"
    if hi is not None:
        return f" up to {hi}"
    return ""


def describe(spec: dict[str, Any], *, understood: bool = True) -> str:
    """E.g. "integer 1 to 14", "one of single, double, suite", "yes/no, unique"."""
    if not understood:
        return NOT_UNDERSTOOD
    kind = str(spec.get("type"))
    if kind == "choice":
        text = "one of " + ", ".join(str(c) for c in spec.get("choices") or [])
    elif kind == "boolean":
        text = "yes/no"
    elif kind == "pattern":
        text = f"pattern {spec.get('pattern')}"
    else:
        text = kind.replace("_", " ") + _bounds(spec)
        if spec.get("precision") is not None and kind in ("float", "decimal"):
            digits = spec["precision"]
            text += f" ({digits} decimal{'' if digits == 1 else 's'})"
    if spec.get("unique"):
        text += ", unique"
    if spec.get("null_ratio"):
        text += f", {spec['null_ratio']:.0%} empty"
    return text
