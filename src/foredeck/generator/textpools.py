"""Free text written by the LLM: a pool of values per field and job, sampled by the engine.

The pool is asked for once and kept in the job's folder, so every chunk, retry and
regeneration samples the same values and stays reproducible.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from foredeck.config import Config
from foredeck.errors import ValidationFailed
from foredeck.generator import llm, remote
from foredeck.generator.schemas import DatasetSchema, FieldType

POOL_SIZE = 40
FILE_NAME = "llm-texts.json"

Pools = dict[str, list[str]]


def wanted(schema: DatasetSchema) -> list[str]:
    """Fields whose values the LLM writes."""
    return [f.name for f in schema.fields if f.type == FieldType.text and f.llm_prompt]


def load(folder: Path, name: str = FILE_NAME) -> Pools:
    path = folder / name
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {k: [str(v) for v in vs] for k, vs in data.items()}


def save(folder: Path, pools: Pools) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (FILE_NAME + ".tmp")
    tmp.write_text(json.dumps(pools, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, folder / FILE_NAME)


async def ensure(
    session: AsyncSession, config: Config, schema: DatasetSchema, folder: Path
) -> Pools:
    """The pools of every LLM text field, asking the model for the missing ones."""
    pools = load(folder)
    if not pools and await remote.present(config, folder / FILE_NAME):
        # Asked for on another machine (S3): the same texts, not a second LLM call.
        async with remote.readable(config, [folder / FILE_NAME]) as (path,):
            pools = load(path.parent, path.name)
    missing = [name for name in wanted(schema) if name not in pools]
    if not missing:
        return pools
    from foredeck.generator.service import llm_config

    cfg = await llm_config(session, config)
    if cfg is None:
        raise ValidationFailed(
            "Fields with llm_prompt need an LLM (settings section generator)",
            details=[
                {"field": f"fields.{n}.llm_prompt", "message": "no LLM configured"} for n in missing
            ],
            code="LLM_NOT_CONFIGURED",
        )
    specs = {f.name: f for f in schema.fields}
    for name in missing:
        spec = specs[name]
        assert spec.llm_prompt is not None
        count = min(POOL_SIZE, schema.rows)
        pools[name] = await llm.texts(cfg, spec.llm_prompt, count, spec.max_length)
    save(folder, pools)
    await remote.publish(config, folder / FILE_NAME)
    return pools
