"""Does the offline generator make the dataset that was described? A labelled evaluation.

Each case of bench/data/generator/{dev,holdout}.json is a description with the columns a
person would expect (accepted names, kind, range, choices, uniqueness, a value pattern). The
description goes through the rule extractor, the schema through the validator and the engine,
and every expectation is checked **on the generated rows**. The dev part was used to tune the
rules; the holdout part was written before the rules changed and was not used to tune them.

Prints, per part: the share of expectations held, polluted names (a constraint word or number
left in a column name), expected columns missing, and extra columns.
Targets: >= 95 % held on both parts, 0 polluted names, 0 missing columns.
Run: .venv/bin/python -m bench.fidelity [--verbose] [--part dev|holdout]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

DATA = Path(__file__).parent / "data" / "generator"
PARTS = ("dev", "holdout")
MAX_ROWS = 5000
# Words that belong to a constraint, never to a column name.
POLLUTION = {
    "between", "after", "before", "since", "least", "most", "yes", "no", "true", "false",
    "unique", "optional", "euros", "euro", "eur", "usd", "dollars", "percent", "either", "kg",
    "km", "cm", "mm", "ms", "minutes", "seconds",
}  # fmt: skip
POLLUTION_PAIRS = {"last_year", "this_year", "up_to", "at_least", "one_of", "yes_no"}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
SMALL_WORDS = {"of", "and", "the", "a", "an", "in", "on", "to", "for"}


@dataclass
class Tally:
    held: int = 0
    total: int = 0
    polluted: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        self.total += 1
        self.held += ok
        if not ok:
            self.failures.append(what)


def _generate(schema_data: dict[str, Any]) -> tuple[pa.Table | None, str]:
    from foredeck.generator.engine import generate_chunk
    from foredeck.generator.validate import Limits, report

    data = {**schema_data, "seed": 7}
    data["rows"] = min(int(data.get("rows") or 1000), MAX_ROWS)
    data["chunk_size"] = data["rows"]
    checked = report(data, Limits())
    if not checked.valid or checked.schema_ is None:
        return None, "; ".join(i.message for i in checked.issues if i.severity == "error")
    return generate_chunk(checked.schema_, 0), ""


def _values(table: pa.Table, name: str) -> list[Any]:
    return [v for v in table[name].to_pylist() if v is not None]


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return float(value)
    return None


def _kind_ok(kind: str, typ: pa.DataType, values: list[Any]) -> bool:
    strings = pa.types.is_string(typ) and all(isinstance(v, str) and v for v in values)
    if kind == "int":
        return pa.types.is_integer(typ)
    if kind == "number":
        return pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)
    if kind == "date":
        return pa.types.is_date(typ)
    if kind == "datetime":
        return pa.types.is_timestamp(typ)
    if kind == "bool":
        return pa.types.is_boolean(typ)
    if kind == "email":
        return strings and all(EMAIL.match(v) for v in values)
    if kind == "text":
        return strings and all(
            len(v.split()) >= 3 and v[0].isupper() and v[-1] in ".!?" for v in values
        )
    if kind == "title":
        return strings and all(
            1 <= len(v.split()) <= 8
            and all(w[0].isupper() or w.lower() in SMALL_WORDS for w in v.split())
            for v in values
        )
    if kind in ("string", "choice"):
        return kind == "choice" or strings
    raise ValueError(f"unknown kind {kind}")


def _bound(value: Any, limit: Any, *, upper: bool) -> bool:
    if isinstance(value, date) != isinstance(limit, str):
        return False
    if isinstance(value, datetime):
        text = str(limit)
        moment = datetime.fromisoformat(text if "T" in text else text + "T00:00:00")
        moment = moment.replace(tzinfo=UTC)
        return value <= moment if upper else value >= moment
    if isinstance(value, date):
        day = date.fromisoformat(str(limit)[:10])
        return value <= day if upper else value >= day
    number = _as_number(value)
    if number is None:
        return False
    return number <= limit + 1e-9 if upper else number >= limit - 1e-9


def _check_column(tally: Tally, where: str, spec: dict[str, Any], table: pa.Table) -> None:
    names = [n for n in spec["name"] if n in table.column_names]
    constraints = [k for k in ("min", "max", "choices", "unique", "match", "year") if k in spec]
    if not names:
        tally.missing.append(f"{where}: {spec['name'][0]}")
        for what in ("present", "kind", *constraints):
            tally.check(False, f"{where}.{spec['name'][0]}: {what} (column missing)")
        return
    name = names[0]
    values = _values(table, name)
    at = f"{where}.{name}"
    tally.check(True, f"{at}: present")
    tally.check(bool(values) and _kind_ok(spec["kind"], table[name].type, values), f"{at}: kind")
    for key in constraints:
        if key in ("min", "max"):
            ok = all(_bound(v, spec[key], upper=key == "max") for v in values)
        elif key == "choices":
            ok = set(map(str, values)) == set(map(str, spec["choices"]))
        elif key == "unique":
            ok = len(set(values)) == len(values)
        elif key == "match":
            ok = all(re.search(spec["match"], str(v)) for v in values)
        else:
            last = datetime.now(UTC).year - 1
            ok = all(isinstance(v, date) and v.year == last for v in values)
        sample = values[:3]
        tally.check(ok, f"{at}: {key} {spec[key]!r} (got e.g. {sample})")


def _polluted(name: str) -> bool:
    tokens = name.split("_")
    pairs = {f"{a}_{b}" for a, b in itertools.pairwise(tokens)}
    return bool(pairs & POLLUTION_PAIRS) or any(t in POLLUTION or t.isdigit() for t in tokens)


def run_case(tally: Tally, index: int, case: dict[str, Any]) -> None:
    from foredeck.generator.rules import extract

    where = f"#{index}"
    result = extract(case["description"])
    schema = result.schema
    table, why = _generate(schema) if schema.get("fields") else (None, "no fields")
    names = [f["name"] for f in schema.get("fields", [])]
    tally.polluted += [f"{where}: {n}" for n in names if _polluted(n)]
    if table is None:
        n = sum(2 + len([k for k in c if k not in ("name", "kind")]) for c in case["columns"])
        for _ in range(n + 1 + ("rows" in case)):
            tally.check(False, f"{where}: schema not generated ({why})")
        return
    expected = {n for c in case["columns"] for n in c["name"]}
    extra = [n for n in table.column_names if n not in expected]
    tally.extra += [f"{where}: {n}" for n in extra]
    tally.check(len(table.column_names) == len(case["columns"]), f"{where}: column count {names}")
    if "rows" in case:
        tally.check(schema.get("rows") == case["rows"], f"{where}: rows {schema.get('rows')}")
    for spec in case["columns"]:
        _check_column(tally, where, spec, table)


def evaluate(part: str) -> Tally:
    cases = json.loads((DATA / f"{part}.json").read_text())["cases"]
    tally = Tally()
    for index, case in enumerate(cases):
        run_case(tally, index, case)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=PARTS)
    parser.add_argument("--verbose", action="store_true")
    args, _ = parser.parse_known_args()
    print("| part | descriptions | expectations held | polluted names | missing | extra |")
    print("|---|---|---|---|---|---|")
    tallies = {}
    for part in [args.part] if args.part else PARTS:
        tally = tallies[part] = evaluate(part)
        count = len(json.loads((DATA / f"{part}.json").read_text())["cases"])
        share = 100 * tally.held / max(tally.total, 1)
        print(
            f"| {part} | {count} | {tally.held}/{tally.total} ({share:.1f} %) | "
            f"{len(tally.polluted)} | {len(tally.missing)} | {len(tally.extra)} |"
        )
    if args.verbose:
        for part, tally in tallies.items():
            print(f"\n## {part}")
            for line in tally.failures + [f"polluted {p}" for p in tally.polluted]:
                print("  " + line)
            for line in tally.extra:
                print("  extra " + line)


if __name__ == "__main__":
    main()
