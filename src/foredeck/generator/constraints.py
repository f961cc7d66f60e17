"""The constraint written in one field phrase: a number range, a date span, a set of values,
yes/no, or a pattern, with where it sits in the phrase so the rest can become the name."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS |= {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name}
MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
DAY = rf"(?:\d{{4}}-\d{{2}}-\d{{2}}|\d{{4}}-\d{{2}}|(?:{MONTH})\.?\s+\d{{4}}|(?:19|20|21)\d{{2}})"
NUM = r"[-−]?[$€£]?\d+(?:,\d{3})*(?:\.\d+)?"
UNIT_WORD = r"(?:\s*[^\s\d,;()]{1,12})?"
BOOL_WORDS = (
    r"yes\s*/\s*no|y\s*/\s*n|true\s*/\s*false|yes\s+or\s+no|true\s+or\s+false|boolean|bool|flag"
)


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


DATE_FORMS: list[tuple[str, re.Pattern[str]]] = [
    ("span", _re(rf"\b(?:between|from)\s+(?P<a>{DAY})\s+(?:and|to|until|-)\s+(?P<b>{DAY})\b")),
    ("span", _re(rf"(?<![\w-])(?P<a>{DAY})\s*(?:to|until|–|-|\.\.)\s*(?P<b>{DAY})\b")),
    ("in", _re(rf"\b(?:in|during|within|for)\s+(?P<a>{DAY})\b")),
    ("after", _re(rf"\b(?:after|later\s+than)\s+(?P<a>{DAY})\b")),
    ("since", _re(rf"\b(?:since|from|starting(?:\s+in)?|as\s+of)\s+(?P<a>{DAY})\b")),
    ("before", _re(rf"\b(?:before|prior\s+to|earlier\s+than)\s+(?P<a>{DAY})\b")),
    ("until", _re(rf"\b(?:until|till|up\s+to|through)\s+(?P<a>{DAY})\b")),
    (
        "relative",
        _re(
            r"\b(?:in\s+the\s+)?(?P<which>last|past|this|next)\s+(?:(?P<n>\d+)\s+)?"
            r"(?P<unit>years?|months?|weeks?|days?)\b"
        ),
    ),
]
NUMBER_FORMS: list[tuple[str, re.Pattern[str]]] = [
    ("range", _re(rf"\bbetween\s+(?P<a>{NUM}){UNIT_WORD}\s+and\s+(?P<b>{NUM})")),
    ("range", _re(rf"\bfrom\s+(?P<a>{NUM}){UNIT_WORD}\s+to\s+(?P<b>{NUM})")),
    ("range", _re(rf"(?<![\w.])(?P<a>{NUM})\s*(?:\.\.|–|-|to)\s*(?P<b>{NUM})(?![\w.])")),
    ("max", _re(rf"\b(?:up\s+to|at\s+most|no\s+more\s+than|max(?:imum)?|<=)\s*(?P<a>{NUM})")),
    ("below", _re(rf"(?:\b(?:under|below|less\s+than)\s+|<\s*)(?P<a>{NUM})")),
    ("min", _re(rf"\b(?:at\s+least|min(?:imum)?|no\s+less\s+than|>=)\s*(?P<a>{NUM})")),
    ("above", _re(rf"(?:\b(?:over|above|more\s+than)\s+|>\s*)(?P<a>{NUM})")),
]
BOOLEAN = re.compile(rf"\(\s*(?:{BOOL_WORDS})\s*\)|(?:\b(?:{BOOL_WORDS})|\?)\s*$", re.I)
PAREN = re.compile(r"\((?P<opts>[^()]*)\)")
COLON = re.compile(r"^(?P<name>[^:]+):\s*(?P<opts>.+)$")
ONE_OF = re.compile(
    r"\b(?:one\s+of|either|among|such\s+as|that\s+is|which\s+is|that\s+can\s+be|is|from|"
    r"like|e\.g\.?|values?)\s+(?P<opts>[^\s].*)$",
    re.I,
)
SLASHED = re.compile(r"(?:^|\s)(?P<opts>[^\s/]+(?:\s*/\s*[^\s/]+)+)\s*$")
ORED = re.compile(r"(?:^|\s)(?P<opts>[\w+#.'-]+(?:\s+or\s+[\w+#.'-]+)+)\s*$", re.I)
PATTERN = re.compile(r"\b(?:like|matching|pattern|format(?:ted)?\s+as)\s+(?P<p>\S*[\\\[{]\S*)$")
UNITS = {
    "euros", "euro", "eur", "€", "dollars", "dollar", "usd", "$", "£", "gbp", "pounds", "chf",
    "percent", "%", "pct", "kg", "kilograms", "kilos", "g", "grams", "lbs", "km",
    "kilometers", "kilometres", "miles", "mi", "m", "meters", "metres", "cm", "mm", "sqm",
    "m2", "m²", "°c", "°f", "c", "celsius", "fahrenheit", "degrees", "hpa", "mbar", "minutes",
    "mins", "min", "seconds", "secs", "sec", "s", "ms", "milliseconds", "hours", "hrs", "h",
    "days", "weeks", "months", "years", "km/h", "mph", "m/s", "square", "sq", "ft", "feet",
    "units", "pieces", "pcs", "per", "night", "month", "week", "day", "hour", "year", "each",
}  # fmt: skip
# Units that are also words of names ("year", "day"): taken from a name only after "in"/"per".
NAME_WORDS = set(
    "year years month months week weeks day days hour hours night each per min s h c g m "
    "square sq".split()
)
TRAILING_UNITS = UNITS - NAME_WORDS


@dataclass
class Found:
    """A constraint and the span of the phrase it came from."""

    kind: str  # range, min, max, dates, choices, boolean, pattern
    start: int
    end: int
    lo: Any = None
    hi: Any = None
    decimals: int = 0
    choices: list[Any] = field(default_factory=list)
    pattern: str | None = None
    # A span written as bare years ("between 1990 and 2020"): years for a year field,
    # dates for a date field, plain numbers otherwise.
    years: tuple[int, int] | None = None


def number(text: str) -> int | float:
    clean = text.replace("−", "-").strip("$€£").replace(",", "")
    clean = clean.replace("-$", "-").replace("-€", "-").replace("-£", "-")
    value = float(clean)
    return int(value) if "." not in clean else value


def _decimals(*texts: str) -> int:
    return max((len(t.split(".", 1)[1]) if "." in t else 0) for t in texts)


def _period(token: str) -> tuple[date, date]:
    """The first and last day a date token covers (a year, a month, or one day)."""
    token = token.strip().rstrip(".")
    parts = token.split()
    if len(parts) == 2:
        year, month = int(parts[1]), MONTHS[parts[0].lower().rstrip(".")]
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    if len(token) == 4:
        return date(int(token), 1, 1), date(int(token), 12, 31)
    if len(token) == 7:
        year, month = int(token[:4]), int(token[5:])
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    day = date.fromisoformat(token)
    return day, day


def _relative(m: re.Match[str], today: date) -> tuple[date, date]:
    which, unit, n = m.group("which").lower(), m.group("unit").lower().rstrip("s"), m.group("n")
    if n is None and unit == "year" and which in ("last", "past"):
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    if n is None and unit == "year":
        year = today.year + (which == "next")
        return date(year, 1, 1), date(year, 12, 31)
    days = {"day": 1, "week": 7, "month": 30, "year": 365}[unit] * int(n or 1)
    if which == "next":
        return today, today + timedelta(days=days)
    return today - timedelta(days=days), today


def _dates(text: str, today: date) -> Found | None:
    for form, regex in DATE_FORMS:
        m = regex.search(text)
        if m is None:
            continue
        try:
            if form == "relative":
                lo, hi = _relative(m, today)
            else:
                lo, hi = _period(m.group("a"))
                if form == "span":
                    hi = _period(m.group("b"))[1]
        except ValueError:
            continue
        bare = [t for t in (m.groupdict().get("a"), m.groupdict().get("b")) if t]
        years = None
        if form in ("span", "in") and bare and all(re.fullmatch(r"\d{4}", t) for t in bare):
            years = (int(bare[0]), int(bare[-1]))
        lo_s: str | None = lo.isoformat()
        hi_s: str | None = hi.isoformat()
        if form == "after":
            lo_s, hi_s = (hi + timedelta(days=1)).isoformat(), None
        elif form == "since":
            hi_s = None
        elif form == "before":
            lo_s, hi_s = None, (lo - timedelta(days=1)).isoformat()
        elif form == "until":
            lo_s = None
        return Found("dates", m.start(), m.end(), lo=lo_s, hi=hi_s, years=years)
    return None


def _numbers(text: str) -> Found | None:
    for form, regex in NUMBER_FORMS:
        m = regex.search(text)
        if m is None:
            continue
        a = m.group("a")
        b = m.groupdict().get("b")
        lo, hi = number(a), number(b) if b else None
        if form == "range" and hi is not None and lo > hi:
            lo, hi = hi, lo
        found = Found("range", m.start(), m.end(), decimals=_decimals(a, *([b] if b else [])))
        if form == "range":
            found.lo, found.hi = lo, hi
        elif form in ("max", "below"):
            found.kind, found.hi = "max", lo
            if form == "below":
                found.hi = lo - 1 if isinstance(lo, int) else lo
        else:
            found.kind, found.lo = "min", lo
            if form == "above":
                found.lo = lo + 1 if isinstance(lo, int) else lo
        return found
    return None


def _options(text: str) -> list[Any]:
    parts = re.split(r"\s*(?:/|\||,|;|\bor\b|\band\b)\s*", text.strip(" .'\""), flags=re.I)
    values = [p.strip(" '\"") for p in parts if p.strip(" '\"")]
    return [number(v) if re.fullmatch(r"-?\d+(?:\.\d+)?", v) else v for v in values]


def _is_boolean(values: list[Any]) -> bool:
    lowered = {str(v).lower() for v in values}
    return lowered in ({"yes", "no"}, {"true", "false"}, {"y", "n"})


def _choice(m: re.Match[str], text: str) -> Found | None:
    values = _options(m.group("opts"))
    if len(values) < 2 or all(str(v).lower() in UNITS for v in values):
        return None
    kind = "boolean" if _is_boolean(values) else "choices"
    return Found(kind, m.start(), len(text), choices=values)


def find(text: str, today: date) -> Found | None:
    """The constraint of a phrase (the first form that matches, most specific first)."""
    if m := BOOLEAN.search(text):
        return Found("boolean", m.start(), m.end())
    if m := PATTERN.search(text):
        return Found("pattern", m.start(), m.end(), pattern=m.group("p"))
    if (m := PAREN.search(text)) and (found := _choice(m, text)):
        found.end = m.end()
        return found
    if (m := COLON.match(text)) and (found := _choice(m, text)):
        found.start = m.end("name")
        return found
    if found := _dates(text, today):
        return found
    if found := _numbers(text):
        return found
    for regex in (ONE_OF, SLASHED):
        if (m := regex.search(text)) and (found := _choice(m, text)):
            return found
    if m := ORED.search(text):
        values = _options(m.group("opts"))
        if _is_boolean(values):
            return Found("boolean", m.start(), len(text))
        # "payment method card or cash": the word before the first "or" is a value too.
        return Found("choices", m.start(), len(text), choices=values)
    return None
