"""CSV dialect detection: files imported without dialect options read exactly as written."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from foredeck.operations.readers import split
from foredeck.operations.readers.formats import CSVReader, open_reader
from tests.conftest import unique
from tests.operations.helpers import import_path, records, run_import

MAPPING = {"external_id": "id", "content": "body", "metadata": ["note", "tag"]}

# Each body is a trap for csv.Sniffer's guesses: doubled quotes never on one line with both
# quotes of their field and no delimiter between (it then takes doublequote=False), a delimiter
# and a space before a quote (skipinitialspace), apostrophes around a delimiter (quotechar), a
# backslash before a quote (escapechar), the other delimiters in text.
BODIES = [
    'line one\nline "two"\n, still one field',
    '"quoted" at the start\nand "at the end"',
    'he said, "no" twice\r\nthen "yes", again',
    "it's 'single', 'quoted'\nnot 'a, field'",
    "C:\\dir\\",
    'a quote after a backslash \\" here, then\nnext',
    "semi; colons | pipes\ttabs",
    'only "" a pair\nand """three"""',
]


def _written(app: FastAPI, name: str, count: int, **fmt: Any) -> tuple[Path, str, list[list[str]]]:
    """A CSV file of `count` rows written by csv.writer in a format; its collection and rows."""
    coll = unique(name)
    path = import_path(app, f"{coll}.csv")
    rows = _rows(count)
    with open(path, "w", newline="") as handle:
        csv.writer(handle, **fmt).writerows(rows)
    return path, coll, rows


def _rows(count: int) -> list[list[str]]:
    rows = [["id", "body", "note", "tag"]]
    for i in range(count):
        note = "" if i % 3 == 0 else f'note {i},\nsecond "line"'
        rows.append([f"r{i}", f"{BODIES[i % len(BODIES)]} #{i}", note, f"t{i % 4}"])
    return rows


def _expected(rows: list[list[str]]) -> dict[str, tuple[str, dict[str, str]]]:
    out = {}
    for ident, body, note, tag in rows[1:]:
        meta = {"tag": tag} | ({"note": note} if note else {})
        out[ident] = (body, meta)
    return out


async def _imported(
    client: httpx.AsyncClient, operator: dict, path: Path, coll: str
) -> dict[str, tuple[str, dict[str, str]]]:
    job = await run_import(client, operator, path=path.name, collection=coll, mapping=MAPPING)
    result = job["result"]
    assert result["errors"] == [] and result["inserted"] == result["rows_read"], result
    got = await records(client, operator, coll)
    return {r["external_id"]: (r["content"], r["metadata"]) for r in got}


async def test_rfc4180_multiline_fields_with_doubled_quotes_need_no_options(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    path, coll, rows = _written(app, "rfc", 120)
    text = path.read_text()
    assert '""' in text and '\\"' in text and ', "' in text
    assert await _imported(client, operator, path, coll) == _expected(rows)

    resp = await client.post(
        "/api/v1/operations/import/preview",
        json={"path": path.name, "collection": coll, "mapping": MAPPING},
        headers=operator,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["columns"] == rows[0]
    want = _expected(rows)
    for row in data["rows"]:
        assert row["error"] is None, row
        assert (row["content"], row["metadata"]) == want[row["external_id"]]
    assert len(data["rows"]) > 5


async def test_every_field_quoted_with_semicolons(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    path, coll, rows = _written(app, "semi", 60, delimiter=";", quoting=csv.QUOTE_ALL)
    assert await _imported(client, operator, path, coll) == _expected(rows)


async def test_backslash_escaped_quotes_are_read(
    client: httpx.AsyncClient, app: FastAPI, operator: dict
) -> None:
    # A backslash is the escape character itself here: written as `\\`.
    path, coll, rows = _written(app, "esc", 60, escapechar="\\", doublequote=False)
    assert '\\"' in path.read_text()
    assert await _imported(client, operator, path, coll) == _expected(rows)
    # Quote counting cannot find a record boundary past escaped quotes: such a file stays whole.
    reader = open_reader(path)
    reader.close()
    assert isinstance(reader, CSVReader) and reader.dialect.escapechar == "\\"
    assert split.text_split(path, "csv", "utf-8", reader.dialect) is None


def _read(path: Path, text: str) -> list[list[str]]:
    """The header and the rows of a CSV file holding `text`, read as an import reads it."""
    path.write_text(text)
    reader = open_reader(path)
    try:
        return [reader.columns] + [
            values for batch in reader.batches(10) for _, values in batch.rows
        ]
    finally:
        reader.close()


def test_a_backslash_before_a_closing_quote_is_text_in_an_rfc_file(tmp_path: Path) -> None:
    got = _read(tmp_path / "paths.csv", 'id,path\n1,"C:\\dir\\"\n2,D:\\x\n')
    assert got == [["id", "path"], ["1", "C:\\dir\\"], ["2", "D:\\x"]]


def test_padding_after_delimiters_in_the_header_is_skipped(tmp_path: Path) -> None:
    got = _read(tmp_path / "spaced.csv", 'a, b, c\n1, "x, y", 2\n3, z, 4\n')
    assert got == [["a", "b", "c"], ["1", "x, y", "2"], ["3", "z", "4"]]


def test_apostrophes_quote_only_in_a_file_without_double_quotes(tmp_path: Path) -> None:
    got = _read(tmp_path / "apos.csv", "a;b\n1;'x; y'\n2;'p'\n")
    assert got == [["a", "b"], ["1", "x; y"], ["2", "p"]]
    got = _read(tmp_path / "both.csv", "a;b\n1;'x'\n2;\"it's\"\n")
    assert got == [["a", "b"], ["1", "'x'"], ["2", "it's"]]
