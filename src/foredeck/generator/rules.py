"""The offline extractor: a plain description ("1000 customers with name, email, age between
18 and 90, country from US/DE/FR") to a dataset schema, with a note for every field saying
how it was read. Nothing described is dropped: a phrase no rule can type becomes a text
column with a warning, so the user sees it and can change it before generating."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from foredeck.generator import constraints, phrases, vocab
from foredeck.generator.constraints import TRAILING_UNITS, UNITS, Found
from foredeck.generator.describe import describe

NULLS = re.compile(r"\(?\s*(?P<pct>\d+(?:\.\d+)?)\s*%\s*(?:null|empty|missing|blank)s?\s*\)?", re.I)
OPTIONAL = re.compile(r"\b(?:optional|nullable|sometimes\s+empty)\b", re.I)
UNIQUE = re.compile(r"\b(?:unique|distinct)\b", re.I)
LEADING = re.compile(r"^(?:(?:a|an|the|their|its|his|her|our|some|each)\s+)+", re.I)
TRAILING = re.compile(
    r"\s+(?:in|is|are|of|that|which|with|being|as|columns?|fields?|values?|=|:|-)\s*$", re.I
)
IN_UNIT = re.compile(r"\b(?:in|per)\s+(?P<u>[^\s]+)$", re.I)
DATETIME_WORDS = {"time", "timestamp", "datetime", "at", "moment"}
DATE_WORDS = {"date", "day", "on", "birthday", "dob"}
ID_WORDS = {"id", "number", "no", "code", "ref", "reference", "key"}


@dataclass
class Note:
    field: str | None
    phrase: str
    message: str
    level: str = "info"  # info: understood; warning: guessed or not understood


@dataclass
class RuleResult:
    schema: dict[str, Any]
    uninterpreted: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def snake(text: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    if not name:
        return "field"
    return ("f_" + name if name[0].isdigit() else name)[:64]


def _clean_name(text: str) -> tuple[str, list[str]]:
    """The name part of a phrase, without articles, units and trailing connectives; and the
    words taken out (reported in the note, never silently lost)."""
    removed: list[str] = []
    text = LEADING.sub("", text.strip(" ,;:.")).strip()
    while True:
        before = text
        text = TRAILING.sub("", text).strip()
        if (m := IN_UNIT.search(text)) and m.group("u").lower() in UNITS:
            removed.append(m.group(0).strip())
            text = text[: m.start()].strip()
        words = text.split()
        while len(words) > 1 and words[-1].lower() in TRAILING_UNITS:
            removed.append(words.pop())
        text = " ".join(words)
        if text == before:
            return text, removed


def _ends_with(words: list[str], key: str) -> bool:
    parts = key.split()
    return words[-len(parts) :] == parts


def _entity_words(entity: str | None) -> set[str]:
    words = set()
    for word in (entity or "").lower().split():
        words |= {word, word.rstrip("s"), re.sub(r"ies$", "y", word)}
    return words


class _Reader:
    """Reads the phrases of one description in order (the first id-like field is the row's)."""

    def __init__(self, entity: str | None, today: date) -> None:
        self.entity = _entity_words(entity)
        self.today = today
        self.ident_seen = False

    def _ident(self, words: list[str], entry: vocab.Entry | None) -> bool:
        """Whether an identifier names the row itself, so it must be unique."""
        if self.ident_seen:
            return bool(words[0].lower() in self.entity) and len(words) == 2
        self.ident_seen = True
        return True

    def _number_spec(self, found: Found, words: list[str], entry: vocab.Entry | None) -> dict:
        hint = entry.hint if entry else None
        base = dict(entry.extra) if entry and entry.type in ("integer", "float", "decimal") else {}
        lo, hi = found.lo, found.hi
        if lo is None:
            floor = base.get("min", 0)
            lo = floor if floor < hi else (0 if hi > 0 else hi - 100)
        if hi is None:
            ceiling = base.get("max", 0)
            hi = ceiling if ceiling > lo else lo + max(1000, abs(lo) * 10)
        if hint == vocab.MONEY:
            return {"type": "decimal", "min": lo, "max": hi, "precision": max(2, found.decimals)}
        if hint == vocab.WHOLE or "year" in [w.lower() for w in words]:
            if found.decimals == 0:
                return {"type": "integer", "min": lo, "max": hi}
        if found.decimals or hint == vocab.MEASURE:
            precision = found.decimals or base.get("precision", 1)
            return {"type": "float", "min": lo, "max": hi, "precision": precision}
        return {"type": "integer", "min": lo, "max": hi}

    def _date_spec(self, found: Found, words: list[str], entry: vocab.Entry | None) -> dict:
        lowered = [w.lower() for w in words]
        hint = entry.hint if entry else None
        if "year" in lowered or (found.years and hint not in (vocab.DATE, vocab.DATETIME)):
            # A year field, or bare years next to a name that is not a date: numbers.
            lo_y = int(found.lo[:4]) if found.lo else (found.years or (1950,))[0]
            hi_y = int(found.hi[:4]) if found.hi else self.today.year
            if found.years and "year" not in lowered:
                return {"type": "integer", "min": found.years[0], "max": found.years[1]}
            return {"type": "integer", "min": lo_y, "max": hi_y}
        timed = hint == vocab.DATETIME or bool(DATETIME_WORDS & set(lowered))
        default_lo = (entry.extra.get("min") if entry else None) or None
        lo, hi = found.lo, found.hi
        if hi is None:
            hi = max(self.today, date.fromisoformat(lo) + timedelta(days=365)).isoformat()
        if lo is None:
            floor = date.fromisoformat(hi) - timedelta(days=365 * 20)
            lo = default_lo if default_lo and default_lo < hi else floor.isoformat()
        if timed:
            return {"type": "datetime", "min": f"{lo}T00:00:00Z", "max": f"{hi}T23:59:59Z"}
        return {"type": "date", "min": lo, "max": hi}

    def _typed(self, found: Found | None, words: list[str]) -> tuple[dict[str, Any], bool]:
        """The spec for a name and its constraint; False when nothing said what it is."""
        hit = vocab.lookup(words) if words else None
        entry = hit[1] if hit else None
        lowered = [w.lower() for w in words]
        if found is not None and found.kind in ("range", "min", "max"):
            return self._number_spec(found, words, entry), True
        if found is not None and found.kind == "dates":
            return self._date_spec(found, words, entry), True
        if found is not None and found.kind == "choices":
            return {"type": "choice", "choices": found.choices}, True
        if found is not None and found.kind == "boolean":
            return {"type": "boolean"}, True
        if found is not None and found.kind == "pattern":
            return {"type": "pattern", "pattern": found.pattern}, True
        if lowered and lowered[0] in ("number", "count", "num") and len(lowered) > 1:
            return {"type": "integer", "min": 0, "max": 100}, True
        if vocab.FLAG_PREFIX.match(" ".join(lowered)):
            return {"type": "boolean"}, True
        head_ident = bool(lowered) and lowered[-1] in ID_WORDS and len(lowered) > 1
        if head_ident and hit is not None and not _ends_with(lowered, hit[0]):
            entry = None  # "driver licence number" is a number, not a driver
        if entry is not None and not (entry.hint == vocab.DATE and DATETIME_WORDS & set(lowered)):
            spec: dict[str, Any] = {"type": entry.type, **entry.extra}
            if entry.ident and self._ident(words, entry):
                spec["unique"] = True
            return spec, True
        if lowered and lowered[-1] in DATETIME_WORDS:
            return {"type": "datetime"}, True
        if head_ident:
            unique = self._ident(words, None)
            prefix = re.sub(r"[^A-Z]", "", lowered[-2].upper())[:3] or "ID"
            spec = {"type": "pattern", "pattern": f"{prefix}-\\d{{8}}"}
            return ({**spec, "unique": True} if unique else spec), True
        return {"type": "text"}, False

    def read(self, phrase: str) -> tuple[dict[str, Any], Note]:
        text = " ".join(phrase.split())
        extra: dict[str, Any] = {}
        if m := NULLS.search(text):
            extra["null_ratio"] = min(float(m.group("pct")) / 100, 1.0)
            text = (text[: m.start()] + text[m.end() :]).strip()
        if OPTIONAL.search(text):
            extra.setdefault("null_ratio", 0.1)
            text = OPTIONAL.sub("", text).strip()
        if UNIQUE.search(text):
            extra["unique"] = True
            text = UNIQUE.sub("", text).strip()
        text = LEADING.sub("", text).strip()
        found = constraints.find(text, self.today)
        ignored: list[str] = []
        if found is not None:
            raw_name = text[: found.start]
            rest = text[found.end :].strip(" ,.")
            if rest:
                ignored.append(rest)
        else:
            raw_name = text
        name, removed = _clean_name(raw_name)
        words = name.split()
        spec, understood = self._typed(found, words)
        spec = {"name": snake(name) if words else "field", **spec, **extra}
        ignored = removed + ignored
        message = describe(spec, understood=understood)
        if ignored:
            message += "; left out of the name: " + ", ".join(f"'{w}'" for w in ignored)
        level = "info" if understood else "warning"
        return spec, Note(field=spec["name"], phrase=phrase, message=message, level=level)


def extract(description: str, *, today: date | None = None) -> RuleResult:
    """A schema dict from a plain description, with a note for every phrase."""
    parsed = phrases.split(description)
    schema: dict[str, Any] = {}
    if parsed.rows:
        schema["rows"] = parsed.rows
    if parsed.entity:
        schema["name"] = snake(parsed.entity)
    reader = _Reader(parsed.entity, today or date.today())
    fields: list[dict[str, Any]] = []
    notes: list[Note] = []
    uninterpreted: list[str] = []
    seen: set[str] = set()
    for phrase in parsed.phrases:
        spec, note = reader.read(phrase)
        base, n = spec["name"], 2
        while spec["name"] in seen:
            spec["name"] = f"{base}_{n}"
            n += 1
        note.field = spec["name"]
        seen.add(spec["name"])
        fields.append(spec)
        notes.append(note)
        if note.level == "warning":
            uninterpreted.append(phrase)
    schema["fields"] = fields
    return RuleResult(schema=schema, uninterpreted=uninterpreted, notes=notes)
