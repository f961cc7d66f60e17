"""Search quality by mode on a labelled set, through the API, on SQLite and PostgreSQL.

The set (bench/data/search_quality.json, written by bench/data/make_search_set.py) has 320 short
records in a dozen topics and 144 queries of three kinds: paraphrases that share almost no
words with their record, bare identifiers (ticket numbers, ICD-10 codes, flight numbers,
booking references) with near-twins differing in one digit, and identifiers mixed with topic
words. Every other query of each kind is held out: the fusion was tuned on the `tuning` part
only, and both parts are reported. Each query runs through the whole app (ASGI, auth, query
parsing, embedding, FAISS, full text, fusion, hydration) in the three modes in the same run;
recall@10 and MRR@10 (one relevant record per query) per mode, kind and part.

    .venv/bin/python -m bench.search_quality                       # SQLite, the default model
    .venv/bin/python -m bench.search_quality --pg postgresql+asyncpg://postgres@127.0.0.1/x
    .venv/bin/python -m bench.search_quality --dump lists.json     # the ranked lists, for tuning
    .venv/bin/python -m bench.search_quality --tune lists.json     # grid of fusion weights

--tune replays index.fusion.fuse over the dumped semantic and keyword lists for a grid of
weights and ranks them on the tuning half only: by the worst margin of hybrid over the better
of its two lists (recall and MRR, every kind, every database dumped), then by the total.

With --pg the database named is dropped and created afresh, then the same table is printed for
it, with how many of the keyword mode's top 10 the two databases share.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np

from bench.embed import quiet_settings
from bench.search import call_asgi, load
from foredeck.embedding.parts import EMBEDDER
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of

DATA = Path(__file__).parent / "data" / "search_quality.json"
MODES = ("semantic", "keyword", "hybrid")
KINDS = ("paraphrase", "identifier", "mixed")
PARTS = ("tuning", "held_out")
DEPTH = 10


async def recreate_postgres(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = url.replace("postgresql+asyncpg", "postgresql").rsplit("/", 1)[0] + "/postgres"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def run(database_url: str | None, model: str | None) -> dict[str, Any]:
    """Load the set into a fresh app and return {mode: {query index: [record keys]}}."""
    from sqlalchemy import select

    from foredeck.app import create_app
    from foredeck.auth import service as auth_service
    from foredeck.auth.schemas import Role
    from foredeck.config import Config
    from foredeck.db import transaction
    from foredeck.models.records import Memory

    data = json.loads(DATA.read_text())
    keys = list(data["records"])
    texts = [data["records"][k] for k in keys]
    if database_url and database_url.startswith("postgresql"):
        await recreate_postgres(database_url)
    with tempfile.TemporaryDirectory() as tmp:
        extra = {"database_url": database_url} if database_url else {}
        config = Config(
            data_dir=Path(tmp),
            embedding_model=model,
            workers=0,
            rate_limit_enabled=False,
            log_level="WARNING",
            **extra,  # type: ignore[arg-type]
        )
        app = create_app(config)
        runtime_of(app)[JOB_SETTINGS] = quiet_settings()
        async with app.router.lifespan_context(app):
            async with transaction(runtime_of(app).sessionmaker) as session:
                user = await auth_service.create_user(
                    session, username="bench", password="bench-password", role=Role.viewer
                )
                _, secret = await auth_service.create_api_key(session, user_id=user.id, name="b")
            vectors = np.asarray(runtime_of(app)[EMBEDDER].encode(texts), dtype=np.float32)
            await load(app, texts, vectors)
            async with transaction(runtime_of(app).sessionmaker) as session:
                rows = (await session.execute(select(Memory.id, Memory.content))).all()
            key_of_text = dict(zip(texts, keys, strict=True))
            key_of = {int(i): key_of_text[c] for i, c in rows}
            headers = {"Authorization": f"Bearer {secret}"}
            lists: dict[str, dict[int, list[str]]] = {m: {} for m in MODES}
            explain: dict[int, list[list[int | None]]] = {}
            tiers: dict[int, list[str | None]] = {}
            for mode in MODES:
                for n, q in enumerate(data["queries"]):
                    path = "/api/v1/search?" + urlencode(
                        {"q": q["query"], "mode": mode, "k": 100 if mode != "hybrid" else DEPTH}
                    )
                    status, body = await call_asgi(app, path, headers)
                    assert status == 200, body[:300]
                    hits = json.loads(body)["data"]["hits"]
                    lists[mode][n] = [key_of[h["memory"]["id"]] for h in hits]
                    if mode == "hybrid":
                        explain[n] = [[h.get("semantic_rank"), h.get("keyword_rank")] for h in hits]
                    if mode == "keyword":
                        tiers[n] = [h.get("keyword_match") for h in hits]
            return {
                "lists": lists,
                "explain": explain,
                "tiers": tiers,
                "model": runtime_of(app)[EMBEDDER].name,
            }


def metrics(
    data: dict[str, Any], lists: dict[str, dict[int, list[str]]], only: set[int] | None = None
) -> dict[tuple, float]:
    """{(mode, kind or 'all', part or 'both', 'recall'|'mrr'): value} (NaN where empty)."""
    out: dict[tuple, float] = {}
    for mode in MODES:
        for kind in (*KINDS, "all"):
            for part in (*PARTS, "both"):
                recalls, rrs = [], []
                for n, q in enumerate(data["queries"]):
                    if only is not None and n not in only:
                        continue
                    if kind != "all" and q["kind"] != kind:
                        continue
                    if part != "both" and q["part"] != part:
                        continue
                    top = lists[mode][n][:DEPTH]
                    relevant = set(q["relevant"])
                    recalls.append(len(relevant & set(top)) / len(relevant))
                    first = next((i for i, k in enumerate(top) if k in relevant), None)
                    rrs.append(0.0 if first is None else 1.0 / (first + 1))
                out[(mode, kind, part, "recall")] = float(np.mean(recalls)) if recalls else np.nan
                out[(mode, kind, part, "mrr")] = float(np.mean(rrs)) if rrs else np.nan
    return out


def table(label: str, m: dict[tuple, float]) -> str:
    lines = [
        f"{label}: recall@10 / MRR@10",
        "| part | mode | paraphrase | identifier | mixed | all |",
        "|---|---|---|---|---|---|",
    ]
    for part in PARTS:
        for mode in MODES:
            cells = [
                f"{m[(mode, k, part, 'recall')]:.2f} / {m[(mode, k, part, 'mrr')]:.2f}"
                for k in (*KINDS, "all")
            ]
            lines.append(f"| {part} | {mode} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(m: dict[tuple, float]) -> list[str]:
    """The issue's targets per part; each line says met or not."""
    out = []
    for part in PARTS:
        checks = [
            (
                "hybrid paraphrase recall >= semantic",
                m[("hybrid", "paraphrase", part, "recall")]
                >= m[("semantic", "paraphrase", part, "recall")],
            ),
            (
                "hybrid identifier MRR >= 0.95 and >= keyword",
                m[("hybrid", "identifier", part, "mrr")] >= 0.95
                and m[("hybrid", "identifier", part, "mrr")]
                >= m[("keyword", "identifier", part, "mrr")],
            ),
            ("hybrid overall recall >= 0.93", m[("hybrid", "all", part, "recall")] >= 0.93),
            (
                "hybrid >= both parts on every kind (recall and MRR)",
                all(
                    m[("hybrid", k, part, s)] >= max(m[(o, k, part, s)] for o in MODES[:2])
                    for k in KINDS
                    for s in ("recall", "mrr")
                ),
            ),
        ]
        out += [f"  {part}: {name}: {'met' if ok else 'NOT met'}" for name, ok in checks]
    return out


def tune(path: str) -> None:
    """Rank fusion weights by how they do on the tuning half of the dumped lists."""
    import itertools

    from foredeck.index.fusion import FusionWeights, fuse
    from foredeck.index.keyword import TIER_ALL, TIER_ANY, TIER_IDENTIFIERS, KeywordHit, parse

    tier_of = {"all": TIER_ALL, "identifiers": TIER_IDENTIFIERS, "any": TIER_ANY}
    data = json.loads(DATA.read_text())
    dump = json.loads(Path(path).read_text())
    number = {key: i for i, key in enumerate(data["records"])}
    key_of = {i: key for key, i in number.items()}
    pool = 50  # what search() asks of each list for k=10
    tuning = [(n, q) for n, q in enumerate(data["queries"]) if q["part"] == "tuning"]
    rows = []
    for k, w_any, w_all in itertools.product((5, 10, 20, 60), (0, 0.05, 0.1, 0.2), (0.5, 1.0)):
        weights = FusionWeights(
            k=k, keyword={TIER_ALL: w_all, TIER_IDENTIFIERS: w_all, TIER_ANY: w_any}
        )
        worst, total = 1.0, 0.0
        for db in dump.values():
            lists = {mode: {int(n): v for n, v in db["lists"][mode].items()} for mode in MODES}
            tiers = {int(n): v for n, v in db["tiers"].items()}
            for n, q in tuning:
                sem = [(number[key], 0.0) for key in lists["semantic"][n][:pool]]
                kw = [
                    KeywordHit(number[key], 0.0, tier_of[t])
                    for key, t in zip(lists["keyword"][n][:pool], tiers[n][:pool], strict=True)
                ]
                has_ids = bool(parse(q["query"]).identifiers)
                out = fuse(sem, kw, has_identifiers=has_ids, weights=weights)
                lists["hybrid"][n] = [key_of[f.memory_id] for f in out[:DEPTH]]
            m = metrics(data, lists, only={n for n, _ in tuning})
            for kind in KINDS:
                for stat in ("recall", "mrr"):
                    best = max(m[(mode, kind, "tuning", stat)] for mode in MODES[:2])
                    worst = min(worst, m[("hybrid", kind, "tuning", stat)] - best)
                    total += m[("hybrid", kind, "tuning", stat)]
        rows.append((worst, total, k, w_any, w_all))
    rows.sort(key=lambda r: (-r[0], -r[1]))
    print("| worst margin over the better list | sum | k | any-word weight | all-words weight |")
    print("|---|---|---|---|---|")
    for worst, total, k, w_any, w_all in rows[:12]:
        print(f"| {worst:+.3f} | {total:.3f} | {k} | {w_any} | {w_all} |")
    plain = next(r for r in rows if r[2:] == (60, 0.2, 1.0))
    print(f"k 60, any 0.2 (the first cut): worst {plain[0]:+.3f}, sum {plain[1]:.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", help="also run on this PostgreSQL URL (dropped and recreated)")
    parser.add_argument("--model", help="embedding model (default: the app's default)")
    parser.add_argument("--dump", help="write the ranked lists as JSON to this file")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run")
    parser.add_argument("--tune", help="rank fusion weights on a --dump file's tuning half")
    args, _ = parser.parse_known_args(argv)
    if args.tune:
        tune(args.tune)
        return
    data = json.loads(DATA.read_text())
    counts = {k: sum(q["kind"] == k for q in data["queries"]) for k in KINDS}
    print(f"  {len(data['records'])} records, {len(data['queries'])} queries {counts}")
    runs: dict[str, Any] = {}
    if not args.no_sqlite:
        runs["sqlite"] = asyncio.run(run(None, args.model))
    if args.pg:
        runs["postgresql"] = asyncio.run(run(args.pg, args.model))
    for db, result in runs.items():
        m = metrics(data, result["lists"])
        print(table(f"{db}, model {result['model']}", m))
        print("\n".join(targets(m)))
        explained = sum(
            1
            for rows in result["explain"].values()
            for s, k in rows
            if s is not None or k is not None
        )
        total = sum(len(rows) for rows in result["explain"].values())
        print(f"  hybrid hits naming the list(s) that found them: {explained}/{total}")
    if len(runs) == 2:
        a, b = runs["sqlite"]["lists"]["keyword"], runs["postgresql"]["lists"]["keyword"]
        shared = [len(set(a[n][:DEPTH]) & set(b[n][:DEPTH])) for n in a]
        sizes = [max(len(a[n][:DEPTH]), len(b[n][:DEPTH]), 1) for n in a]
        same_first = sum(bool(a[n]) and bool(b[n]) and a[n][0] == b[n][0] for n in a)
        print(
            f"  keyword top 10, SQLite vs PostgreSQL: {np.mean(np.divide(shared, sizes)):.2f} "
            f"shared on average; same first hit on {same_first}/{len(a)} queries"
        )
    if args.dump:
        dump = {db: {"lists": r["lists"], "tiers": r["tiers"]} for db, r in runs.items()}
        Path(args.dump).write_text(json.dumps(dump))


if __name__ == "__main__":
    main()
