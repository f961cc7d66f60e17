"""The offline extractor: plain descriptions such as
"1000 customers with name, email, age between 18 and 90, country from US/DE/FR"."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

COUNT = re.compile(
    r"^\s*(?:generate|create|make|give me|i need)?\s*(?:a dataset of\s+)?"
    r"(?P<n>\d[\d,_]*(?:\.\d+)?)\s*(?P<mult>k|m|thousand|million)?\b\s*(?P<entity>[a-z][a-z _-]*?)?"
    r"\s*(?:\b(?:with|having|containing|that have|where each has)\b|:|$)",
    re.IGNORECASE,
)
BETWEEN = re.compile(
    r"^(?P<name>.+?)\s+(?:between|from)\s+(?P<lo>-?[\d.]+)\s*(?:and|to|-)\s*(?P<hi>-?[\d.]+)\s*$"
)
RANGE = re.compile(
    r"^(?P<name>.+?)\s*\(?\s*(?P<lo>-?[\d.]+)\s*(?:-|\.\.|to)\s*(?P<hi>-?[\d.]+)\s*\)?$"
)
DATE_BETWEEN = re.compile(
    r"^(?P<name>.+?)\s+(?:between|from)\s+(?P<lo>\d{4}(?:-\d{2}-\d{2})?)\s*(?:and|to|-)\s*"
    r"(?P<hi>\d{4}(?:-\d{2}-\d{2})?)\s*$"
)
CHOICES = re.compile(
    r"^(?P<name>.+?)\s+(?:from|one of|in|among|either|as)\s+[\[(]?(?P<opts>[^\])]+?)[\])]?$"
)
LISTED = re.compile(r"^(?P<name>[^(\[:]+?)\s*(?:[(\[]|:)\s*(?P<opts>[^)\]]+?)\s*[)\]]?$")
PATTERN = re.compile(r"^(?P<name>.+?)\s+(?:like|matching|pattern)\s+(?P<pattern>\S+)$")
NULLS = re.compile(r"\(?\s*(?P<pct>\d+(?:\.\d+)?)\s*%\s*(?:null|empty|missing)s?\s*\)?")
MIN_ONLY = re.compile(r"^(?P<name>.+?)\s+(?:over|above|at least|>=?)\s+(?P<v>-?[\d.]+)$")
MAX_ONLY = re.compile(r"^(?P<name>.+?)\s+(?:under|below|up to|at most|<=?)\s+(?P<v>-?[\d.]+)$")

# Keyword -> (type, extra constraints); checked longest keyword first.
KEYWORDS: dict[str, tuple[str, dict[str, Any]]] = {
    "first name": ("first_name", {}),
    "firstname": ("first_name", {}),
    "last name": ("last_name", {}),
    "surname": ("last_name", {}),
    "lastname": ("last_name", {}),
    "full name": ("name", {}),
    "name": ("name", {}),
    "email address": ("email", {}),
    "email": ("email", {}),
    "e-mail": ("email", {}),
    "phone number": ("phone", {}),
    "phone": ("phone", {}),
    "telephone": ("phone", {}),
    "address": ("address", {}),
    "city": ("city", {}),
    "country": ("country", {}),
    "company": ("company", {}),
    "employer": ("company", {}),
    "job title": ("job_title", {}),
    "occupation": ("job_title", {}),
    "job": ("job_title", {}),
    "website": ("url", {}),
    "url": ("url", {}),
    "uuid": ("uuid", {}),
    "guid": ("uuid", {}),
    "id": ("uuid", {"unique": True}),
    "age": ("integer", {"min": 18, "max": 90}),
    "quantity": ("integer", {"min": 1, "max": 100}),
    "count": ("integer", {"min": 0, "max": 1000}),
    "year": ("integer", {"min": 1950, "max": 2025}),
    "price": ("decimal", {"min": 1, "max": 1000, "precision": 2}),
    "amount": ("decimal", {"min": 1, "max": 10000, "precision": 2}),
    "salary": ("decimal", {"min": 20000, "max": 200000, "precision": 2}),
    "balance": ("decimal", {"min": 0, "max": 100000, "precision": 2}),
    "cost": ("decimal", {"min": 1, "max": 1000, "precision": 2}),
    "score": ("float", {"min": 0, "max": 100, "precision": 2}),
    "rating": ("float", {"min": 1, "max": 5, "precision": 1}),
    "weight": ("float", {"min": 1, "max": 150, "precision": 1}),
    "height": ("float", {"min": 140, "max": 210, "precision": 1}),
    "latitude": ("float", {"min": -90, "max": 90, "precision": 6}),
    "longitude": ("float", {"min": -180, "max": 180, "precision": 6}),
    "percentage": ("float", {"min": 0, "max": 100, "precision": 1}),
    "birthday": ("date", {"min": "1940-01-01", "max": "2007-12-31"}),
    "birth date": ("date", {"min": "1940-01-01", "max": "2007-12-31"}),
    "date of birth": ("date", {"min": "1940-01-01", "max": "2007-12-31"}),
    "dob": ("date", {"min": "1940-01-01", "max": "2007-12-31"}),
    "timestamp": ("datetime", {}),
    "datetime": ("datetime", {}),
    "created at": ("datetime", {}),
    "updated at": ("datetime", {}),
    "date": ("date", {}),
    "description": ("text", {}),
    "comment": ("text", {}),
    "notes": ("text", {}),
    "note": ("text", {}),
    "bio": ("text", {}),
    "review": ("text", {}),
    "text": ("text", {}),
    "title": ("lorem", {"min_length": 3, "max_length": 8}),
    "lorem": ("lorem", {}),
    "in stock": ("boolean", {}),
    "available": ("boolean", {}),
    "paid": ("boolean", {}),
    "deleted": ("boolean", {}),
    "subscribed": ("boolean", {}),
    "active": ("boolean", {}),
    "enabled": ("boolean", {}),
    "verified": ("boolean", {}),
    "flag": ("boolean", {}),
    "boolean": ("boolean", {}),
    "gender": ("choice", {"choices": ["female", "male", "non-binary"], "weights": [48, 48, 4]}),
    "status": ("choice", {"choices": ["active", "inactive", "pending"]}),
    "integer": ("integer", {}),
    "number": ("integer", {}),
    "float": ("float", {}),
    "decimal": ("decimal", {}),
    "string": ("string", {}),
    "code": ("string", {"min_length": 8, "max_length": 8}),
}
_ORDERED = sorted(KEYWORDS, key=len, reverse=True)
MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}


@dataclass
class RuleResult:
    schema: dict[str, Any]
    uninterpreted: list[str] = field(default_factory=list)


def snake(text: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not name:
        return "field"
    return ("f_" + name if name[0].isdigit() else name)[:64]


def _num(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


def _split_items(body: str) -> list[str]:
    # Commas and "and" separate fields, except the "and" of "between A and B" and anything
    # inside brackets, which lists a field's choices.
    protected = re.sub(
        r"\b(between\s+\S+)\s+and\s+", lambda m: m.group(1) + " \x00 ", body, flags=re.I
    )
    protected = re.sub(r"[(\[][^)\]]*[)\]]", lambda m: m.group(0).replace(",", "\x01"), protected)
    parts = re.split(r",|;|\band\b|\n", protected, flags=re.I)
    cleaned = (p.replace("\x00", "and").replace("\x01", ",").strip(" .") for p in parts)
    return [p for p in cleaned if p]


def _keyword(text: str) -> tuple[str, dict[str, Any]] | None:
    lowered = text.lower()
    for key in _ORDERED:
        if re.search(rf"(?<![a-z]){re.escape(key)}(?![a-z])", lowered):
            kind, extra = KEYWORDS[key]
            return kind, dict(extra)
    return None


def _choice(name: str, opts: str) -> dict[str, Any] | None:
    """A choice field from "a/b/c", "a, b or c" (two options at least)."""
    options = [o.strip(" '\"") for o in re.split(r"[/|,]|\bor\b", opts)]
    options = [o for o in options if o]
    if len(options) < 2:
        return None
    choices: list[Any] = [_num(o) if re.fullmatch(r"-?\d+(\.\d+)?", o) else o for o in options]
    return {"name": snake(name), "type": "choice", "choices": choices}


def _interpret(item: str) -> dict[str, Any] | None:
    text = item.strip()
    spec: dict[str, Any] = {}
    if m := NULLS.search(text):
        spec["null_ratio"] = min(float(m.group("pct")) / 100, 1.0)
        text = NULLS.sub("", text).strip()
    if re.search(r"\b(optional|nullable)\b", text, re.I):
        spec.setdefault("null_ratio", 0.1)
        text = re.sub(r"\b(optional|nullable)\b", "", text, flags=re.I).strip()
    if re.search(r"\bunique\b", text, re.I):
        spec["unique"] = True
        text = re.sub(r"\bunique\b", "", text, flags=re.I).strip()
    text = re.sub(r"^(?:an?|the|their|its|his|her)\s+", "", text, flags=re.I).strip()
    if not text:
        return None

    if m := DATE_BETWEEN.match(text):
        kind = _keyword(m.group("name"))
        lo, hi = m.group("lo"), m.group("hi")
        if len(lo) == 4:
            lo += "-01-01"
        if len(hi) == 4:
            hi += "-12-31"
        typ = kind[0] if kind and kind[0] in ("date", "datetime") else "date"
        return {"name": snake(m.group("name")), "type": typ, "min": lo, "max": hi, **spec}
    if (m := BETWEEN.match(text)) or (m := RANGE.match(text)):
        lo, hi = _num(m.group("lo")), _num(m.group("hi"))
        kind = _keyword(m.group("name"))
        typ = "float" if isinstance(lo, float) or isinstance(hi, float) else "integer"
        extra: dict[str, Any] = {}
        if kind and kind[0] in ("float", "decimal"):
            typ, extra = kind[0], {k: v for k, v in kind[1].items() if k == "precision"}
        return {"name": snake(m.group("name")), "type": typ, "min": lo, "max": hi, **extra, **spec}
    if m := MIN_ONLY.match(text):
        kind = _keyword(m.group("name"))
        typ = kind[0] if kind and kind[0] in ("integer", "float", "decimal") else "integer"
        return {"name": snake(m.group("name")), "type": typ, "min": _num(m.group("v")), **spec}
    if m := MAX_ONLY.match(text):
        kind = _keyword(m.group("name"))
        typ = kind[0] if kind and kind[0] in ("integer", "float", "decimal") else "integer"
        lo = 0 if _num(m.group("v")) > 0 else _num(m.group("v")) - 100
        return {
            "name": snake(m.group("name")),
            "type": typ,
            "min": lo,
            "max": _num(m.group("v")),
            **spec,
        }
    if m := PATTERN.match(text):
        return {
            "name": snake(m.group("name")),
            "type": "pattern",
            "pattern": m.group("pattern"),
            **spec,
        }
    for regex in (CHOICES, LISTED):
        if (m := regex.match(text)) and (choice := _choice(m.group("name"), m.group("opts"))):
            return {**choice, **spec}
    if re.match(r"^(?:is|has|can)\s+\w", text, re.I):
        return {"name": snake(text), "type": "boolean", **spec}
    kind = _keyword(text)
    if kind is None:
        return None
    typ, extra = kind
    return {"name": snake(text), "type": typ, **extra, **spec}


def extract(description: str) -> RuleResult:
    """A schema dict from a plain description, and the parts it could not read."""
    text = " ".join(description.split())
    schema: dict[str, Any] = {}
    body = text
    if m := COUNT.match(text):
        rows = float(m.group("n").replace(",", "").replace("_", ""))
        rows *= MULTIPLIERS.get((m.group("mult") or "").lower(), 1)
        schema["rows"] = int(rows)
        entity = (m.group("entity") or "").strip()
        if entity:
            schema["name"] = snake(entity)
        body = text[m.end() :]
    elif m := re.match(
        r"^(?P<entity>[a-z][a-z _-]{0,40}?)\s*(?::|\bwith\b|\bhaving\b)", text, re.I
    ):
        schema["name"] = snake(m.group("entity"))
        body = text[m.end() :]
    fields: list[dict[str, Any]] = []
    uninterpreted: list[str] = []
    seen: set[str] = set()
    for item in _split_items(body):
        spec = _interpret(item)
        if spec is None:
            uninterpreted.append(item)
            continue
        base, n = spec["name"], 2
        while spec["name"] in seen:
            spec["name"] = f"{base}_{n}"
            n += 1
        seen.add(spec["name"])
        fields.append(spec)
    schema["fields"] = fields
    return RuleResult(schema=schema, uninterpreted=uninterpreted)
