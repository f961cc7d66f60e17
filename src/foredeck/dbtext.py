"""One guard for text neither database can hold the same way.

PostgreSQL refuses NUL in text and JSON (and unpaired surrogates anywhere), while SQLite stores
them: a value that "works" embedded would crash a scale-out server. Every statement's string
parameters are checked before they reach the driver, so such input is a 422 on both, from any
endpoint, and nothing of the request is written.
"""

from __future__ import annotations

import json
import re
from typing import Any

from foredeck.errors import ValidationFailed

# Raw NUL or surrogate code points, and their JSON escapes (a JSON column's serialised text):
# \u0000 anywhere, a high surrogate escape not followed by a low one, a low one not preceded by
# a high one.
_UNSTORABLE = re.compile(
    r"[\x00\ud800-\udfff]"
    r"|\\u0000"
    r"|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})"
    r"|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}",
    re.IGNORECASE,
)


class UnstorableText(ValidationFailed):
    code = "UNSTORABLE_TEXT"


class UnstorableNumber(ValidationFailed):
    code = "UNSTORABLE_NUMBER"


def dumps_storable_json(value: Any) -> str:
    """The engines' JSON serializer: NaN and infinity are refused on both databases.

    PostgreSQL's JSONB has no such numbers, and SQLite would store a token it reads back
    as null; a request that carries one (`1e999` parses as infinity) gets a 422.
    """
    try:
        return json.dumps(value, allow_nan=False)
    except ValueError:
        raise UnstorableNumber(
            "Numbers must be finite (no NaN or infinity, nor a value as large as 1e999); "
            "nothing was changed"
        ) from None


def _check(value: Any) -> None:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise UnstorableText(
                "Text may not contain NUL bytes (\\u0000) or unpaired surrogates; "
                "nothing was changed"
            )
    elif isinstance(value, dict):
        for item in value.values():
            _check(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check(item)


def refuse_unstorable_text(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    """A `before_cursor_execute` hook: raise UnstorableText for a bad string parameter."""
    _check(parameters)
