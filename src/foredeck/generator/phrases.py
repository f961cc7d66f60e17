"""A description cut into its parts: how many rows, of what, and one phrase per field.

People write "1000 customers with name, email, ...", "Generate 200 orders. Each order has
...", bullet lists, "status: open, closed" and "one of card, cash or paypal"; the splitter
keeps each field's constraint with it (the "and" of "between 1 and 5", the commas of a listed
set of values) so the interpreter sees whole field phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from foredeck.generator.vocab import is_field

NUMBER = r"\d[\d,_]*(?:\.\d+)?"
HEADER = re.compile(
    r"^\s*(?:please\s+)?(?:(?:generate|create|make|build|produce|give\s+me|i\s+need|i\s+want|"
    r"we\s+need|need)\s+)?(?:me\s+)?(?:(?:a|an|the)\s+)?"
    r"(?:(?:dataset|data\s+set|table|list|file|csv|sample)\s+(?:of|with|for)\s+)?"
    rf"(?:(?P<n>{NUMBER})\s*(?P<mult>k|m|thousand|million)?\s+)?"
    r"(?:(?:rows|records|entries|lines|items)\s+(?:of|for|with)\s+)?"
    r"(?P<entity>[a-z][a-z\- ]{0,40}?)\s*"
    r"(?P<sep>:|;|\bwith\b|\bhaving\b|\bcontaining\b|\bincluding\b|\bwhere\b|\.|$)",
    re.IGNORECASE,
)
LEAD_IN = re.compile(
    r"^(?:(?:each|every|for\s+each|per)\s+(?:[a-z\-]+\s+){0,3}?"
    r"(?:has|have|includes?|contains?|gets?|comes\s+with|should\s+have|needs?|with)\b"
    r"|(?:they|it|each\s+one|every\s+one|the\s+\w+)\s+(?:has|have|includes?|contains?|should\s+have)\b"
    r"|(?:also\s+)?(?:add|include|put\s+in)\b"
    r"|(?:with|having|including|containing|fields?|columns?|attributes?|and|also|plus)\b)\s*:?\s*",
    re.IGNORECASE,
)
BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+", re.MULTILINE)
SENTENCE_END = re.compile(r"(?<=[A-Za-z0-9)\]%])\.(?:\s+|$)")
LIST_OPENER = re.compile(
    r"(?::|\b(?:one\s+of|either|among|such\s+as|that\s+is|which\s+is|that\s+can\s+be|is|from|"
    r"like|e\.g\.?))\s*[^\s,]+\s*$",
    re.IGNORECASE,
)
SEPARATOR = re.compile(r"(,|\band\b|\bplus\b|\bas\s+well\s+as\b|&)", re.IGNORECASE)
BETWEEN_AND = re.compile(r"\b(between\s+[^\s,;]+(?:\s+[^\s,;\d]+)?)\s+and\s+", re.IGNORECASE)
MULTIPLIERS = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}
# Words after the count that name a row rather than the dataset's subject.
ROW_WORDS = {"rows", "records", "entries", "lines", "items"}


@dataclass
class Parsed:
    rows: int | None = None
    entity: str | None = None
    phrases: list[str] = field(default_factory=list)


def _rows(number: str, mult: str | None) -> int:
    value = float(number.replace(",", "").replace("_", ""))
    return int(value * MULTIPLIERS.get((mult or "").lower(), 1))


def _segments(text: str) -> list[str]:
    """Lines, sentences and semicolon parts: each holds one or more field phrases."""
    text = BULLET.sub("; ", text)
    text = text.replace("\n", " ; ")
    text = SENTENCE_END.sub(" ; ", text)
    return [s.strip() for s in text.split(";") if s.strip(" .")]


def _header(segments: list[str]) -> tuple[int | None, str | None, list[str]]:
    first = segments[0]
    m = HEADER.match(first)
    if m is None or (m.group("sep") in ("", ".") and m.end() < len(first.rstrip(" ."))):
        return None, None, segments
    entity = " ".join(m.group("entity").split())
    if len(entity.split()) > 5 or (m.group("sep") == "" and len(segments) == 1):
        return None, None, segments
    rows = _rows(m.group("n"), m.group("mult")) if m.group("n") else None
    rest = first[m.end() :].strip()
    return rows, entity or None, ([rest] if rest else []) + segments[1:]


def _protect(segment: str) -> str:
    # Commas in brackets list one field's values; the "and" of "between A and B" is a range.
    segment = re.sub(r"\(([^)]*)\)", lambda m: "(" + m.group(1).replace(",", "\x01") + ")", segment)
    segment = re.sub(r"(?<=\d),(?=\d{3}\b)", "\x01", segment)
    return BETWEEN_AND.sub(lambda m: m.group(1) + " \x00 ", segment)


def _restore(text: str) -> str:
    return text.replace("\x00", "and").replace("\x01", ",").strip(" .")


def _listed_value(text: str, *, after_colon: bool) -> bool:
    """A short item that reads as one more value of the list before it (after a colon, a
    single word always does: "shipping: standard, express")."""
    words = text.split()
    numbered = len(words) > 1 and any(c.isdigit() for c in text)
    if after_colon and len(words) == 1:
        return True
    return 0 < len(words) <= 3 and not numbered and not is_field(text)


def _split(segment: str) -> list[str]:
    parts = SEPARATOR.split(_protect(segment))
    phrases: list[str] = []
    open_list = colon = False
    for i in range(0, len(parts), 2):
        text = _restore(parts[i])
        sep = parts[i - 1].strip().lower() if i else ""
        if not text:
            continue
        if open_list and phrases and _listed_value(text, after_colon=colon):
            phrases[-1] += (", " if sep == "," else f" {sep} ") + text
            open_list = sep == "," and " or " not in f" {text} "
            continue
        phrases.append(text)
        # "one of card, ..." and "status: open, ..." go on; "from a/b/c" is already whole.
        opener = LIST_OPENER.search(text)
        open_list = bool(opener) and "/" not in opener.group(0) if opener else False
        colon = bool(opener) and opener.group(0).startswith(":") if opener else False
    return [p for p in (LEAD_IN.sub("", p).strip(" .") for p in phrases) if p]


def split(description: str) -> Parsed:
    """The row count, the entity and the field phrases of a description."""
    text = description.strip()
    segments = _segments(text)
    if not segments:
        return Parsed()
    rows, entity, body = _header(segments)
    phrases: list[str] = []
    for segment in body:
        segment = LEAD_IN.sub("", segment.strip())
        phrases.extend(_split(segment))
    if entity and entity.split()[-1].lower() in ROW_WORDS:
        entity = " ".join(entity.split()[:-1]) or None
    return Parsed(rows=rows, entity=entity, phrases=phrases)
