"""Synthetic rows/s for a 10-field schema: foredeck's engine against a plain mimesis loop and a
plain Faker loop producing the same fields, in the same run; then merging 1M generated rows
from chunk files into Parquet (and CSV, JSONL) with the peak RSS of the merging process,
against reading every chunk into memory first.

Targets: >= 2x the mimesis loop, >= 20x the Faker loop; merge memory bounded (flat in rows).
Run: .venv/bin/python -m bench.generate [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

SCHEMA = {
    "seed": 1,
    "fields": [
        {"name": "id", "type": "uuid"},
        {"name": "name", "type": "name"},
        {"name": "email", "type": "email"},
        {"name": "age", "type": "integer", "min": 18, "max": 90},
        {"name": "score", "type": "float", "min": 0, "max": 100, "precision": 2},
        {"name": "signup", "type": "date", "min": "2000-01-01", "max": "2025-12-31"},
        {
            "name": "country",
            "type": "choice",
            "choices": ["US", "DE", "FR", "GB"],
            "weights": [4, 3, 2, 1],
        },
        {"name": "city", "type": "city"},
        {"name": "phone", "type": "phone"},
        {"name": "active", "type": "boolean"},
    ],
}
COUNTRIES = ["US", "DE", "FR", "GB"]
WEIGHTS = [4, 3, 2, 1]


def _foredeck(rows: int) -> Callable[[], int]:
    from foredeck.generator.engine import generate_chunk
    from foredeck.generator.schemas import DatasetSchema

    schema = DatasetSchema.model_validate({**SCHEMA, "rows": rows, "chunk_size": 100_000})
    generate_chunk(schema, 0)  # pools are built once per process, as in a server

    def run() -> int:
        return sum(generate_chunk(schema, i).num_rows for i in range(schema.chunk_count))

    return run


def _mimesis(rows: int) -> Callable[[], int]:
    from datetime import date

    from mimesis import Address, Choice, Cryptographic, Datetime, Development, Numeric, Person
    from mimesis.locales import Locale

    person, address = Person(Locale.EN, seed=1), Address(Locale.EN, seed=1)
    numeric, dt, dev = Numeric(seed=1), Datetime(seed=1), Development(seed=1)
    crypto, choice = Cryptographic(seed=1), Choice(seed=1)
    pool = [c for c, w in zip(COUNTRIES, WEIGHTS, strict=True) for _ in range(w)]

    def run() -> int:
        out = []
        for _ in range(rows):
            out.append(
                {
                    "id": crypto.uuid(),
                    "name": person.full_name(),
                    "email": person.email(),
                    "age": numeric.integer_number(18, 90),
                    "score": numeric.float_number(0, 100, precision=2),
                    "signup": dt.date(2000, 2025),
                    "country": choice(pool),
                    "city": address.city(),
                    "phone": person.phone_number(),
                    "active": dev.boolean(),
                }
            )
        assert isinstance(out[0]["signup"], date)
        return len(out)

    return run


def _faker(rows: int) -> Callable[[], int]:
    from collections import OrderedDict
    from datetime import date

    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(1)
    weighted = OrderedDict(zip(COUNTRIES, WEIGHTS, strict=True))
    start, end = date(2000, 1, 1), date(2025, 12, 31)

    def run() -> int:
        out = []
        for _ in range(rows):
            out.append(
                {
                    "id": fake.uuid4(),
                    "name": fake.name(),
                    "email": fake.email(),
                    "age": fake.random_int(18, 90),
                    "score": fake.pyfloat(min_value=0, max_value=100, right_digits=2),
                    "signup": fake.date_between(start, end),
                    "country": fake.random_element(weighted),
                    "city": fake.city(),
                    "phone": fake.phone_number(),
                    "active": fake.boolean(),
                }
            )
        return len(out)

    return run


def _rate(make: Callable[[int], Callable[[], int]], rows: int, rounds: int) -> float:
    run = make(rows)
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        done = run()
        rates.append(done / (time.perf_counter() - start))
    return statistics.median(rates)


MERGE_CHILD = """
import json, resource, sys, time
from pathlib import Path
mode, fmt, folder, out = sys.argv[1:5]
paths = sorted(Path(folder).glob("chunk-*.parquet"))
import pyarrow as pa, pyarrow.parquet as pq
from foredeck.generator import storage
from foredeck.generator.schemas import OutputFormat
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
if mode == "foredeck":
    rows = storage.merge(paths, OutputFormat(fmt), Path(out))[0]
else:
    table = pa.concat_tables([pq.read_table(p) for p in paths])
    pq.write_table(table, out, compression="zstd")
    rows = table.num_rows
secs = time.perf_counter() - t
print(json.dumps({"rows": rows, "seconds": secs, "base_rss_mb": base,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _merge(mode: str, fmt: str, folder: Path, out: Path) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, "-c", MERGE_CHILD, mode, fmt, str(folder), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--engine-rows", type=int, default=300_000)
    parser.add_argument("--mimesis-rows", type=int, default=30_000)
    parser.add_argument("--faker-rows", type=int, default=5_000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the merge part")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv or [])

    fd = _rate(_foredeck, args.engine_rows, args.rounds)
    mim = _rate(_mimesis, args.mimesis_rows, args.rounds)
    fk = _rate(_faker, args.faker_rows, args.rounds)
    print(f"10-field rows/s  foredeck {fd:,.0f}  mimesis loop {mim:,.0f}  Faker loop {fk:,.0f}")
    print(
        f"ratio vs mimesis {fd / mim:.1f}x (target >= 2x)   vs Faker {fd / fk:.1f}x (target >= 20x)"
    )

    from foredeck.generator import storage
    from foredeck.generator.schemas import DatasetSchema

    schema = DatasetSchema.model_validate({**SCHEMA, "rows": args.rows, "chunk_size": 100_000})
    with tempfile.TemporaryDirectory(prefix="bench-gen-") as tmp:
        folder = Path(tmp) / "chunks"
        start = time.perf_counter()
        for i in range(schema.chunk_count):
            storage.write_chunk(schema, i, folder)
        secs = time.perf_counter() - start
        print(
            f"generate + write {args.rows:,} rows in {schema.chunk_count} chunk files: "
            f"{secs:.1f} s ({args.rows / secs:,.0f} rows/s)"
        )
        naive = _merge("naive", "parquet", folder, Path(tmp) / "naive.parquet")
        for fmt in ("parquet", "csv", "jsonl", "json"):
            got = _merge("foredeck", fmt, folder, Path(tmp) / f"out.{fmt}")
            rate = got["rows"] / got["seconds"]
            extra = got["peak_rss_mb"] - got["base_rss_mb"]
            print(
                f"merge {int(got['rows']):,} rows -> {fmt:8s} {got['seconds']:.1f} s "
                f"({rate:,.0f} rows/s), peak RSS {got['peak_rss_mb']:.0f} MB "
                f"(+{extra:.0f} MB over the process after imports)"
            )
        print(
            f"reference: read all chunks then write parquet {naive['seconds']:.1f} s, "
            f"peak RSS {naive['peak_rss_mb']:.0f} MB "
            f"(+{naive['peak_rss_mb'] - naive['base_rss_mb']:.0f} MB)"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
