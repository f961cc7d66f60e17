"""JSON parsing with limits: one guard for every JSON-ish input foredeck reads.

Python's json module turns `1e999` into infinity, accepts `NaN`/`Infinity`, raises a plain
ValueError for integers past the int-string conversion limit and a RecursionError for deep
nesting. None of those may reach a user as a 500, and none may be stored: PostgreSQL's JSONB
refuses NaN and infinity that SQLite would keep. Here each becomes a JSONLimitError (a
ValueError with a message that is safe to show).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

# Deeper than any record needs; far below where the C decoder runs out of recursion.
MAX_DEPTH = 64
# Python refuses to convert longer integer strings (sys.get_int_max_str_digits()).
MAX_INT_DIGITS = sys.get_int_max_str_digits() or 4300


class JSONLimitError(ValueError):
    """The JSON is well formed but past a limit; the message says which."""


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JSONLimitError(f"the number {_short(text)} is out of range")
    return value


def _constant(name: str) -> Any:
    raise JSONLimitError(f"{name} is not a JSON number")


def _short(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:20]}… ({len(text)} characters)"


_STRICT = json.JSONDecoder(parse_float=_float, parse_constant=_constant)
# Only finds where a value ends: nothing it returns is kept.
_LENIENT = json.JSONDecoder(
    parse_float=lambda s: 0.0, parse_int=lambda s: 0, parse_constant=lambda s: 0.0
)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists/objects nest deeper than limit (iterative: no recursion to run out of)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _decode(decoder: json.JSONDecoder, text: str, pos: int) -> tuple[Any, int]:
    try:
        return decoder.raw_decode(text, pos)  # type: ignore[no-any-return]
    except (JSONLimitError, json.JSONDecodeError):
        raise
    except RecursionError:
        raise JSONLimitError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        # The only other ValueError the decoder raises: an integer past the digit limit.
        raise JSONLimitError(f"an integer has more than {MAX_INT_DIGITS} digits") from None


def _check_depth(value: Any, text: str, start: int, end: int) -> None:
    # Counting brackets runs in C and settles nearly every value without a walk.
    if not isinstance(value, dict | list):
        return
    if text.count("[", start, end) + text.count("{", start, end) <= MAX_DEPTH:
        return
    if too_deep(value):
        raise JSONLimitError(f"nested deeper than {MAX_DEPTH} levels")


def raw_decode(text: str, pos: int = 0) -> tuple[Any, int]:
    """Decode one value starting at pos; (value, end). JSONLimitError past a limit."""
    value, end = _decode(_STRICT, text, pos)
    _check_depth(value, text, pos, end)
    return value, end


def value_end(text: str, pos: int) -> int:
    """Where the value at pos ends, for one that raw_decode refused for a number in it."""
    return _decode(_LENIENT, text, pos)[1]


def loads(data: str | bytes) -> Any:
    """json.loads with limits: JSONDecodeError for bad JSON, JSONLimitError past a limit."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    start = len(text) - len(text.lstrip())
    value, end = raw_decode(text, start)
    if text[end:].strip():
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def parse_error(exc: ValueError) -> str:
    """A short reason for a failed loads/raw_decode."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    return str(exc)
