"""Large imports staged in two workers: the split falls between records and changes nothing.

The size threshold is lowered so small files take the two-worker path; each test checks that
the path it meant to take was taken, then that the result is what one pass gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI

from foredeck.kit.runtime import runtime_of
from foredeck.operations.offload import parallel, pool
from foredeck.operations.readers import split
from tests.conftest import unique
from tests.operations.helpers import import_and_cancel, import_path, records, run_import

# Only SQLite stages in the workers' own files; PostgreSQL reads in one pass (COPY).
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def splits(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Split every file; record what each two-worker staging returned (None: one pass)."""
    monkeypatch.setattr(parallel, "MIN_BYTES", 1)
    monkeypatch.setattr(parallel, "COLD_MIN_BYTES", 1)
    seen: list[Any] = []
    original = parallel.stage_in_two

    async def spy(*args: Any, **kwargs: Any) -> Any:
        parts = await original(*args, **kwargs)
        seen.append(parts)
        return parts

    monkeypatch.setattr(parallel, "stage_in_two", spy)
    return seen


def _multiline_csv(path: Path, rows: int) -> list[str]:
    """A CSV whose quoted fields hold newlines and quotes on every line; its contents."""
    contents = []
    with open(path, "w", newline="") as handle:
        handle.write("external_id,content,tag\n")
        for i in range(rows):
            text = f'line one of {i}\nline "two" of {i}\n, still {i}'
            contents.append(text)
            handle.write(f'e{i},"{text.replace(chr(34), chr(34) * 2)}",t{i % 3}\r\n')
    return contents


async def test_csv_with_quoted_newlines_splits_between_records(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, splits: list[Any]
) -> None:
    coll = unique("split")
    path = import_path(app, f"{coll}.csv")
    contents = _multiline_csv(path, 400)
    # Every record's first newline is inside quotes: the split must skip past them.
    middle = path.stat().st_size // 2
    at = split.text_split(path, "csv", "utf-8")
    assert at is not None and at > middle and path.read_bytes()[at - 2 : at] == b"\r\n"
    # Row errors on both sides of the split, and a record of the first part repeated in the
    # second (a later row wins, as in one pass).
    lines = (path.read_bytes() + b"e5,changed five,t9\r\nragged,row\r\n").split(b"\r\n")
    lines.insert(3, b"x,y")
    path.write_bytes(b"\r\n".join(lines))
    job = await run_import(client, operator, path=path.name, collection=coll)
    assert splits and splits[0] is not None, "the file was not split"
    result = job["result"]
    assert result["rows_read"] == 403
    assert result["inserted"] == 400 and result["duplicates"] == 1, result
    assert result["errors"] == [
        {"row": 4, "reason": "has 2 fields, the header has 3"},
        {"row": 403, "reason": "has 2 fields, the header has 3"},
    ]
    got = {r["external_id"]: r["content"] for r in await records(client, operator, coll)}
    contents[5] = "changed five"
    assert got == {f"e{i}": text for i, text in enumerate(contents)}
    events = await client.get(f"/api/v1/jobs/{job['id']}/events/history", headers=operator)
    row_events = [ev for ev in events.json()["data"] if ev["kind"] == "row_errors"]
    assert [e["row"] for ev in row_events for e in ev["data"]["errors"]] == [4, 403]


async def test_a_split_inside_a_record_reads_the_file_again(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, splits: list[Any]
) -> None:
    coll = unique("missplit")
    path = import_path(app, f"{coll}.csv")
    # One literal quote in an unquoted field (csv reads it as text) makes the quote count
    # odd, so the guessed split lands inside the next quoted field.
    body = ["external_id,content"] + [f"a{i},plain {i}" for i in range(200)]
    body[3] = 'a2,a 5" screen'
    body += [f'b{i},"two\nlines {i}"' for i in range(200)]
    path.write_text("\n".join(body) + "\n")
    at = split.text_split(path, "csv", "utf-8")
    assert at is not None and path.read_bytes()[:at].endswith(b'"two\n')
    job = await run_import(client, operator, path=path.name, collection=coll)
    assert splits == [None], "the reader did not catch the bad split"
    result = job["result"]
    assert (result["rows_read"], result["inserted"], result["errors"]) == (400, 400, [])
    got = {r["external_id"]: r["content"] for r in await records(client, operator, coll)}
    assert got["a2"] == 'a 5" screen' and got["b7"] == "two\nlines 7" and len(got) == 400


async def test_jsonl_and_parquet_split_keep_row_numbers(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, splits: list[Any]
) -> None:
    coll = unique("splitj")
    lines = [json.dumps({"content": f"text {i}", "external_id": f"j{i}"}) for i in range(300)]
    lines[10] = "{broken"
    lines[250] = ""
    lines[280] = json.dumps({"content": "", "external_id": "empty"})
    lines.append(json.dumps({"content": "text 1", "external_id": "j1"}))
    path = import_path(app, f"{coll}.jsonl")
    path.write_text("\n".join(lines) + "\n")
    job = await run_import(client, operator, path=path.name, collection=coll)
    assert splits[-1] is not None
    result = job["result"]
    assert [e["row"] for e in result["errors"]] == [11, 281]
    assert (result["inserted"], result["duplicates"]) == (297, 1), result

    table = pa.Table.from_pylist(
        [{"content": f"pq {i}", "external_id": f"p{i}"} for i in range(90)]
        + [{"content": "", "external_id": "blank"}]
    )
    pq_path = import_path(app, f"{coll}.parquet")
    pq.write_table(table, pq_path, row_group_size=20)
    job = await run_import(client, operator, path=pq_path.name, collection=coll + "p")
    assert splits[-1] is not None
    result = job["result"]
    assert result["errors"] == [{"row": 91, "reason": "content is empty"}]
    assert result["inserted"] == 90
    got = await records(client, operator, coll + "p")
    assert [r["external_id"] for r in got] == [f"p{i}" for i in range(90)]


async def test_an_error_in_the_second_part_is_numbered_from_the_start(
    client: httpx.AsyncClient, app: FastAPI, operator: dict, splits: list[Any]
) -> None:
    coll = unique("splitbad")
    path = import_path(app, f"{coll}.csv")
    rows = [f"r{i},{'x' * 200} {i}" for i in range(3000)]
    data = ("external_id,content\n" + "\n".join(rows) + "\n").encode()
    # Past the sample the encoding check reads, in the second half: row 2,900.
    cut = data.index(b"r2899,") + 8
    path.write_bytes(data[:cut] + b"\xff" + data[cut + 1 :])
    job = await run_import(client, operator, expect="failed", path=path.name, collection=coll)
    assert splits == [None]
    # "Near": the decoder reads ahead. Numbered from the split it would be about 1,400.
    near = int(job["error"].split("near row ")[1].split(";")[0])
    assert 2800 <= near <= 2900, job["error"]
    assert await records(client, operator, coll) == []
    left = [str(p) for p in runtime_of(app).config.data_dir.rglob("stage-*")]
    assert not left, "a staging file was left behind"


async def test_a_cancelled_split_import_changes_nothing_and_leaves_no_worker_behind(
    client: httpx.AsyncClient,
    app: FastAPI,
    admin: dict,
    operator: dict,
    splits: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[pool.OperationsWorker] = []
    original_init = pool.OperationsWorker.__init__

    def recording_init(self: pool.OperationsWorker) -> None:
        original_init(self)
        started.append(self)

    monkeypatch.setattr(pool.OperationsWorker, "__init__", recording_init)
    coll = unique("splitcancel")
    await import_and_cancel(client, app, admin, operator, coll, after_rows=1000)
    assert await records(client, operator, coll) == []
    assert not list(runtime_of(app).config.data_dir.rglob("stage-*"))
    # Every worker this import used is idle in the pool or gone.
    idle = set(map(id, pool._idle))
    assert all(id(w) in idle or not w.alive for w in started), started
    assert not any(w.busy for w in pool._idle)
