"""The generation engine: determinism per chunk, uniqueness across chunks, types, merge."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from foredeck.generator import patterns, storage
from foredeck.generator.engine import generate_chunk, permute
from foredeck.generator.schemas import DatasetSchema, OutputFormat
from foredeck.generator.validate import Limits, check


def schema(**overrides: object) -> DatasetSchema:
    base: dict[str, object] = {
        "seed": 42,
        "rows": 2500,
        "chunk_size": 1000,
        "fields": [
            {"name": "id", "type": "uuid", "unique": True},
            {"name": "name", "type": "name"},
            {"name": "email", "type": "email", "unique": True},
            {"name": "age", "type": "integer", "min": 18, "max": 90},
            {"name": "score", "type": "float", "min": 0, "max": 10, "precision": 2},
            {"name": "price", "type": "decimal", "min": 1, "max": 99, "precision": 2},
            {"name": "joined", "type": "date", "min": "2020-01-01", "max": "2020-12-31"},
            {"name": "seen", "type": "datetime", "min": "2024-01-01T00:00:00Z"},
            {
                "name": "country",
                "type": "choice",
                "choices": ["US", "DE", "FR", "XX"],
                "weights": [5, 3, 2, 0],
            },
            {"name": "sku", "type": "pattern", "pattern": r"SKU-[A-Z]{2}\d{3}", "unique": True},
            {"name": "note", "type": "text", "null_ratio": 0.5},
            {"name": "active", "type": "boolean", "true_ratio": 1.0},
            {"name": "buddy", "type": "reference", "ref": "name"},
        ],
    }
    base.update(overrides)
    return DatasetSchema.model_validate(base)


def test_permutation_is_a_bijection() -> None:
    for n in (1, 2, 7, 1000, 4097):
        out = permute(np.arange(n, dtype=np.uint64), n, seed=3, name="x")
        assert sorted(out.tolist()) == list(range(n))
    big = permute(np.arange(10_000, dtype=np.uint64), 2**64, seed=3, name="x")
    assert len(set(big.tolist())) == 10_000


def test_chunk_is_a_pure_function_of_seed_and_index() -> None:
    s = schema()
    first = generate_chunk(s, 1)
    assert first.equals(generate_chunk(s, 1))
    assert not first.equals(generate_chunk(s, 0))
    assert not first.equals(generate_chunk(schema(seed=43), 1))
    assert generate_chunk(s, 2).num_rows == 500


def test_values_keep_their_constraints() -> None:
    t = generate_chunk(schema(), 0).to_pylist()
    for row in t:
        assert 18 <= row["age"] <= 90
        assert 0 <= row["score"] <= 10 and round(row["score"], 2) == row["score"]
        assert Decimal("1") <= row["price"] <= Decimal("99")
        assert date(2020, 1, 1) <= row["joined"] <= date(2020, 12, 31)
        assert row["seen"].year >= 2024
        assert row["country"] in {"US", "DE", "FR"}  # weight 0 never drawn
        assert re.fullmatch(r"SKU-[A-Z]{2}\d{3}", row["sku"])
        assert re.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z.]+", row["email"]), row["email"]
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", row["id"]
        )
        assert row["active"] is True
    names = {r["name"] for r in t}
    assert all(r["buddy"] in names for r in t)
    nulls = sum(r["note"] is None for r in t)
    assert 0 < nulls < len(t)


def test_uniqueness_holds_across_chunks() -> None:
    s = schema(rows=2500, chunk_size=700)
    rows = [r for i in range(s.chunk_count) for r in generate_chunk(s, i).to_pylist()]
    assert len(rows) == 2500
    for name in ("id", "email", "sku"):
        assert len({r[name] for r in rows}) == 2500, name
    # A unique field whose value space is exactly the row count uses every value once.
    tight = DatasetSchema.model_validate(
        {
            "seed": 1,
            "rows": 100,
            "chunk_size": 30,
            "fields": [{"name": "n", "type": "integer", "min": 1, "max": 100, "unique": True}],
        }
    )
    values = [
        r["n"] for i in range(tight.chunk_count) for r in generate_chunk(tight, i).to_pylist()
    ]
    assert sorted(values) == list(range(1, 101))


def test_seed_override_keeps_uniqueness() -> None:
    s = schema(rows=2000, chunk_size=1000)
    other = generate_chunk(s, 1, {"seed": 999})
    assert not other.equals(generate_chunk(s, 1))
    ids = set(generate_chunk(s, 0)["id"].to_pylist()) | set(other["id"].to_pylist())
    assert len(ids) == 2000


def test_impossible_constraints_are_reported() -> None:
    s = DatasetSchema.model_validate(
        {
            "rows": 100,
            "fields": [
                {"name": "a", "type": "integer", "min": 1, "max": 10, "unique": True},
                {"name": "b", "type": "integer", "min": 5, "max": 1},
                {"name": "c", "type": "choice", "choices": ["x", "y"], "weights": [1]},
                {"name": "d", "type": "pattern", "pattern": "[^a]+"},
                {"name": "e", "type": "reference", "ref": "nope"},
                {"name": "f", "type": "text", "unique": True},
                {"name": "g", "type": "boolean", "unique": True},
                {"name": "h", "type": "pattern", "pattern": r"\d{1,256}", "unique": True},
            ],
        }
    )
    issues = {i.field: i for i in check(s, Limits())}
    assert issues["fields.a"].code == "IMPOSSIBLE_UNIQUE"
    assert "10 possible values" in issues["fields.a"].message
    assert "above max" in issues["fields.b"].message
    assert "weights" in issues["fields.c"].message
    assert "negated" in issues["fields.d"].message
    assert issues["fields.e"].code == "UNKNOWN_REF"
    assert issues["fields.f"].code == "IMPOSSIBLE_UNIQUE"
    assert issues["fields.g"].code == "IMPOSSIBLE_UNIQUE"
    assert "repetition" in issues["fields.h"].message
    capped = check(schema(rows=50, chunk_size=10), Limits(max_rows=10, max_chunk_size=5))
    assert {i.field for i in capped} >= {"rows", "chunk_size"}


@pytest.mark.parametrize(
    "pattern",
    [r"[A-F0-9]{4}-\d{2}", r"(EU|US|APAC)-\d{3}", r"ab?c+", r"x\.y[a-c]{1,3}", r"^Z{2}$"],
)
def test_patterns_match_their_regex(pattern: str) -> None:
    node = patterns.parse(pattern)
    rng = np.random.default_rng(0)
    for value in patterns.generate(node, rng, 200).to_pylist():
        assert re.fullmatch(pattern, value), value
    cap = min(node.capacity(), 50)
    coded = patterns.from_codes(node, np.arange(cap, dtype=np.uint64)).to_pylist()
    assert len(set(coded)) == cap
    assert all(re.fullmatch(pattern, v) for v in coded)


def test_merge_formats_hold_identical_content(tmp_path: Path) -> None:
    s = schema(rows=1200, chunk_size=500)
    folder = tmp_path / "chunks"
    sums = [storage.write_chunk(s, i, folder)[2] for i in range(s.chunk_count)]
    # Rewriting a chunk gives the same bytes.
    assert storage.write_chunk(s, 1, folder)[2] == sums[1]
    paths = [folder / storage.chunk_name(i) for i in range(s.chunk_count)]
    out: dict[OutputFormat, Path] = {}
    for fmt in OutputFormat:
        out[fmt] = tmp_path / f"data.{fmt.value}"
        rows, size, checksum = storage.merge(paths, fmt, out[fmt])
        assert rows == 1200 and size > 0 and len(checksum) == 64
    reference = storage.json_rows(pq.read_table(out[OutputFormat.parquet]))
    assert len(reference) == 1200
    assert json.loads(out[OutputFormat.json].read_text()) == reference
    lines = out[OutputFormat.jsonl].read_text().splitlines()
    assert [json.loads(line) for line in lines] == reference
    with out[OutputFormat.csv].open() as fh:
        got = list(csv.DictReader(io.StringIO(fh.read())))
    assert [(r["id"], r["email"], int(r["age"])) for r in got] == [
        (r["id"], r["email"], r["age"]) for r in reference
    ]


def test_json_block_escapes_like_json_dumps() -> None:
    import pyarrow as pa

    tricky = ['a"b', "c\\d", "e\nf\tg\rh", None, "ünï ☃", "ctl\x01x", ""]
    batch = pa.RecordBatch.from_pydict(
        {"s": tricky, "n": [1, None, 3, 4, 5, 6, 7], "f": [1.5, 100.0, None, 1e-7, 2.0, 0.1, -3.0]}
    )
    lines = storage.json_block(batch, "", "\n").decode().splitlines()
    assert [json.loads(line)["s"] for line in lines] == tricky
    plain = pa.RecordBatch.from_pydict({"s": tricky[:5], "f": [1.5, 100.0, None, 1e-7, 2.0]})
    rows = [json.loads(x) for x in storage.json_block(plain, "", "\n").decode().splitlines()]
    assert rows == plain.to_pylist()
    assert all(isinstance(r["f"], float) for r in rows if r["f"] is not None)
