"""`foredeck generate` and `foredeck schema validate` as a user runs them (subprocesses)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.test_cli import run


def test_generate_from_words_to_parquet(tmp_path: Path) -> None:
    out = tmp_path / "people.parquet"
    saved = tmp_path / "schema.json"
    args = [
        "generate",
        "people with name, unique email, age between 18 and 90, country from US/DE/FR",
        "--rows",
        "25000",
        "--chunk-size",
        "10000",
        "--seed",
        "8",
        "--format",
        "parquet",
        "--out",
        str(out),
        "--save-schema",
        str(saved),
    ]
    done = run(args, tmp_path / "var")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "wrote 25000 rows" in done.stdout
    table = pq.read_table(out)
    assert table.num_rows == 25000
    assert table.column_names == ["name", "email", "age", "country"]
    assert len(set(table["email"].to_pylist())) == 25000
    assert set(table["country"].to_pylist()) == {"US", "DE", "FR"}
    # Same seed, same file content; the saved schema reproduces it.
    again = tmp_path / "again.parquet"
    redo = run(
        ["generate", "--schema", str(saved), "--format", "parquet", "--out", str(again)],
        tmp_path / "var",
    )
    assert redo.returncode == 0, redo.stderr
    assert pq.read_table(again).equals(table)
    valid = run(["schema", "validate", str(saved)], tmp_path / "var")
    assert valid.returncode == 0 and "valid" in valid.stdout


def test_schema_validate_and_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "rows": 100,
                "fields": [{"name": "a", "type": "integer", "min": 1, "max": 5, "unique": True}],
            }
        )
    )
    res = run(["schema", "validate", str(bad)], tmp_path / "var")
    assert res.returncode == 1
    assert "IMPOSSIBLE_UNIQUE" in res.stderr
    res = run(["generate", "zorp blarg", "--out", str(tmp_path / "x.csv")], tmp_path / "var")
    assert res.returncode == 1 and "No field could be read" in res.stderr
    res = run(["generate", "users with name", "--format", "xml"], tmp_path / "var")
    assert res.returncode == 2


def test_generate_says_how_the_description_was_read(tmp_path: Path) -> None:
    out = tmp_path / "rentals.csv"
    args = [
        "generate",
        "rentals with price between 10 and 90 euros, returned late yes/no, a flux capacitor",
        "--rows",
        "50",
        "--format",
        "csv",
        "--out",
        str(out),
    ]
    done = run(args, tmp_path / "var")
    assert done.returncode == 0, done.stderr + done.stdout
    lines = done.stderr.splitlines()
    assert any("price: decimal 10 to 90" in line and "'euros'" in line for line in lines)
    assert any("returned_late: yes/no" in line for line in lines)
    assert any("flux_capacitor: not understood" in line for line in lines)
    assert out.read_text().splitlines()[0] == '"price","returned_late","flux_capacitor"'
