"""Chunk generation: per-chunk seeds, unique values across chunks, nulls and references."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from foredeck.generator.columns import Column, ColumnError
from foredeck.generator.fieldtypes import make_column
from foredeck.generator.schemas import DatasetSchema, FieldSpec, FieldType

MASK64 = (1 << 64) - 1
ROUNDS = 4


def field_key(name: str) -> int:
    return zlib.crc32(name.encode())


def chunk_rng(seed: int, chunk: int, name: str, stream: int = 0) -> np.random.Generator:
    """The random stream of one field in one chunk: a pure function of (seed, chunk, field)."""
    return np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(chunk, field_key(name), stream))
    )


def _round_keys(seed: int, name: str, bits: int) -> list[tuple[int, int]]:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2**31, field_key(name))))
    mask = (1 << bits) - 1
    keys = []
    for _ in range(ROUNDS):
        mult = int(rng.integers(0, 2**63)) * 2 + 1
        keys.append((mult & mask | 1, int(rng.integers(0, 2**63)) & mask))
    return keys


def permute(index: np.ndarray, n: int, *, seed: int, name: str) -> np.ndarray:
    """A keyed bijection of [0, n): distinct row indices give distinct codes.

    Each round (odd multiply, xor-shift, add, all mod 2^bits) is invertible on `bits` bits;
    values that land at or above n walk the cycle again until they fall inside, which keeps
    the map a bijection of [0, n) and needs under two rounds on average.
    """
    n = min(n, 1 << 64)
    bits = max(1, (n - 1).bit_length())
    mask = np.uint64((1 << bits) - 1) if bits < 64 else np.uint64(MASK64)
    shift = np.uint64(max(1, bits // 2))
    keys = [(np.uint64(m), np.uint64(a)) for m, a in _round_keys(seed, name, bits)]

    def mix(x: np.ndarray) -> np.ndarray:
        for mult, add in keys:
            x = (x * mult) & mask
            x ^= x >> shift
            x = (x + add) & mask
        return x

    out = index.astype(np.uint64)
    with np.errstate(over="ignore"):
        out = mix(out)
        if n < (1 << 64):
            limit = np.uint64(n)
            todo = out >= limit
            while todo.any():
                out[todo] = mix(out[todo])
                todo = out >= limit
    return out


def apply_overrides(spec: FieldSpec, override: dict[str, Any] | None) -> FieldSpec:
    if not override:
        return spec
    changes = {k: v for k, v in override.items() if v is not None}
    return FieldSpec.model_validate({**spec.model_dump(), **changes})


def build_columns(
    schema: DatasetSchema, overrides: dict[str, Any] | None = None
) -> dict[str, Column]:
    """The column generators of a schema (ColumnError names the first bad field)."""
    fields = (overrides or {}).get("fields") or {}
    out: dict[str, Column] = {}
    for spec in schema.fields:
        spec = apply_overrides(spec, fields.get(spec.name))
        try:
            out[spec.name] = make_column(spec, schema.locale)
        except ColumnError as exc:
            raise ColumnError(f"{spec.name}: {exc}") from exc
    return out


def generate_chunk(
    schema: DatasetSchema,
    index: int,
    overrides: dict[str, Any] | None = None,
    text_pools: dict[str, list[str]] | None = None,
) -> pa.Table:
    """Rows of chunk `index`; the same (schema, index, overrides, pools) gives the same table."""
    n = schema.chunk_rows(index)
    if n <= 0:
        raise ValueError(f"chunk {index} is past the end of the dataset")
    seed = (overrides or {}).get("seed")
    chunk_seed = schema.seed if seed is None else int(seed)
    columns = build_columns(schema, overrides)
    row_ids = np.arange(index * schema.chunk_size, index * schema.chunk_size + n, dtype=np.uint64)
    arrays: dict[str, pa.Array] = {}
    for spec in schema.fields:
        if spec.type == FieldType.reference:
            continue
        col = columns[spec.name]
        rng = chunk_rng(chunk_seed, index, spec.name)
        if schema.is_unique(spec):
            cap = col.capacity()
            if cap is None:
                raise ColumnError(f"{spec.name}: unique is not supported for {spec.type.value}")
            # Keyed by the job seed, not a chunk override, so uniqueness survives overrides.
            values = col.coded(permute(row_ids, cap, seed=schema.seed, name=spec.name))
        elif text_pools and spec.name in text_pools:
            written = pa.array(text_pools[spec.name], pa.string())
            values = written.take(pa.array(rng.integers(0, len(written), n)))
        else:
            values = col.random(rng, n)
        arrays[spec.name] = _with_nulls(values, col.spec.null_ratio, rng, n)
    for spec in schema.fields:
        if spec.type != FieldType.reference:
            continue
        rng = chunk_rng(chunk_seed, index, spec.name)
        source = arrays[spec.ref or ""]
        values = source.take(pa.array(rng.integers(0, n, n)))
        arrays[spec.name] = _with_nulls(values, columns[spec.name].spec.null_ratio, rng, n)
    return pa.table({spec.name: arrays[spec.name] for spec in schema.fields})


def _with_nulls(values: pa.Array, ratio: float, rng: np.random.Generator, n: int) -> pa.Array:
    if ratio <= 0:
        return values
    mask = pa.array(rng.random(n) < ratio)
    return pc.if_else(mask, pa.scalar(None, values.type), values)
