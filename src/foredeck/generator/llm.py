"""The LLM extractor: any OpenAI-compatible chat API (OpenAI, Gemini's compatible endpoint,
Ollama, vLLM) asked for a JSON dataset schema, with its answer checked before use."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from foredeck.errors import AppError, ServiceUnavailable, pydantic_details
from foredeck.generator.schemas import DatasetSchema, FieldType

ATTEMPTS = 2
FENCE = re.compile(r"^\s*```(?:json)?\s*(?P<body>.*?)\s*```\s*$", re.DOTALL)


class LLMBadOutput(AppError):
    """The model answered, but not with a usable schema."""

    status_code = 502
    code = "LLM_BAD_OUTPUT"


@dataclass(frozen=True)
class LLMConfig:
    base_url: str
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_output_tokens: int = 4096


SYSTEM_PROMPT = (
    "You convert a description of a dataset into a JSON dataset schema for a synthetic data "
    "generator. Reply with ONE JSON object and nothing else, shaped as:\n"
    '{"name": str, "rows": int, "fields": [{"name": snake_case str, "type": TYPE, ...}], '
    '"unique_fields": [str]}\n'
    "TYPE is one of: " + ", ".join(t.value for t in FieldType) + ".\n"
    "Optional field keys: min, max (numbers, or ISO dates for date/datetime), min_length, "
    "max_length, precision, null_ratio (0..1), unique (bool), choices (list) and weights "
    "(list of numbers, same length) for type choice, pattern (regex) for type pattern, "
    "ref (another field's name) for type reference, true_ratio for boolean, format "
    "(strftime for dates, # mask for phone), locale (e.g. en, de, fr).\n"
    "Use only keys listed here. Leave out rows if the description gives no count."
)


def _content(body: Any) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMBadOutput(
            "The LLM reply has no choices[0].message.content",
            details=[{"field": "llm", "message": "unexpected response shape"}],
        ) from exc
    if not isinstance(content, str) or not content.strip():
        raise LLMBadOutput(
            "The LLM replied with empty content",
            details=[{"field": "llm", "message": "empty content"}],
        )
    return content


def parse_reply(content: str) -> dict[str, Any]:
    """The schema object in a reply (code fences allowed); LLMBadOutput when there is none."""
    text = content.strip()
    if m := FENCE.match(text):
        text = m.group("body")
    if not text.startswith("{") and "{" in text and "}" in text:
        # Prose around the object ("Here is the schema: {...}") is common; keep the object.
        text = text[text.index("{") : text.rindex("}") + 1]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LLMBadOutput(
            f"The LLM reply is not valid JSON ({exc.msg} at line {exc.lineno})",
            details=[{"field": "llm", "message": content[:300]}],
        ) from exc
    if not isinstance(data, dict):
        raise LLMBadOutput(
            "The LLM reply is JSON but not an object",
            details=[{"field": "llm", "message": content[:300]}],
        )
    if isinstance(data.get("schema"), dict):
        data = data["schema"]
    return data


def _schema_errors(data: dict[str, Any]) -> list[dict[str, str]]:
    probe = {**data}
    probe.setdefault("seed", 0)
    try:
        DatasetSchema.model_validate(probe)
    except ValidationError as exc:
        return pydantic_details(exc)
    return []


Checker = Callable[[dict[str, Any]], list[dict[str, str]]]


async def _post(
    client: httpx.AsyncClient, config: LLMConfig, messages: list[dict[str, str]]
) -> str:
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    payload = {
        "model": config.model,
        "messages": messages,
        "temperature": 0,
        "max_tokens": config.max_output_tokens,
        "response_format": {"type": "json_object"},
    }
    try:
        resp = await client.post(
            config.base_url.rstrip("/") + "/chat/completions", json=payload, headers=headers
        )
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            f"The LLM at {config.base_url} cannot be reached: {type(exc).__name__}",
            code="LLM_UNAVAILABLE",
        ) from exc
    if resp.status_code >= 400:
        raise LLMBadOutput(
            f"The LLM answered HTTP {resp.status_code}",
            details=[{"field": "llm", "message": resp.text[:300]}],
            code="LLM_ERROR",
        )
    try:
        body = resp.json()
    except ValueError as exc:
        raise LLMBadOutput(
            "The LLM answer is not JSON", details=[{"field": "llm", "message": resp.text[:300]}]
        ) from exc
    return _content(body)


async def ask_json(
    config: LLMConfig, system: str, user: str, check: Checker, what: str
) -> dict[str, Any]:
    """One JSON object from the model that passes `check`; one retry says what was wrong."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    last: LLMBadOutput | None = None
    async with httpx.AsyncClient(timeout=config.timeout_s) as client:
        for _ in range(ATTEMPTS):
            content = await _post(client, config, messages)
            try:
                data = parse_reply(content)
            except LLMBadOutput as exc:
                last = exc
                messages += [
                    {"role": "assistant", "content": content[:4000]},
                    {"role": "user", "content": f"{exc.message}. Reply with the JSON object only."},
                ]
                continue
            errors = check(data)
            if not errors:
                return data
            last = LLMBadOutput(f"The LLM reply is not {what}", details=errors[:20])
            problems = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:10])
            messages += [
                {"role": "assistant", "content": content[:4000]},
                {"role": "user", "content": f"That is invalid ({problems}). Fix it."},
            ]
    assert last is not None
    raise last


async def extract(
    config: LLMConfig, description: str, check: Checker | None = None
) -> dict[str, Any]:
    """Ask the model for a dataset schema matching a description; `check` (the generator's
    validator) has the last word, so a reply it refuses gets the one retry too."""

    def errors(data: dict[str, Any]) -> list[dict[str, str]]:
        found = _schema_errors(data)
        return found if found or check is None else check(data)

    return await ask_json(config, SYSTEM_PROMPT, description, errors, "a valid dataset schema")


TEXTS_PROMPT = (
    "You write realistic sample values for one text column of a synthetic dataset. Reply with "
    'ONE JSON object {"texts": [str, ...]} holding exactly the number of distinct values asked '
    "for, each a complete value on its own, no numbering."
)


async def texts(config: LLMConfig, prompt: str, count: int, max_chars: int | None) -> list[str]:
    """`count` distinct sample texts for a free-text field, written by the model."""
    limit = f" Each at most {max_chars} characters." if max_chars else ""

    def check(data: dict[str, Any]) -> list[dict[str, str]]:
        values = data.get("texts")
        if not isinstance(values, list) or not all(
            isinstance(v, str) and v.strip() for v in values
        ):
            return [{"field": "texts", "message": "must be a list of non-empty strings"}]
        if len(set(values)) < max(1, count // 2):
            return [
                {
                    "field": "texts",
                    "message": f"{len(set(values))} distinct values, asked for {count}",
                }
            ]
        return []

    data = await ask_json(
        config, TEXTS_PROMPT, f"{count} values of: {prompt}.{limit}", check, "a list of texts"
    )
    out = list(dict.fromkeys(v.strip() for v in data["texts"]))
    return [v[:max_chars] for v in out] if max_chars else out
