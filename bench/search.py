"""Search latency through the API against the raw FAISS call, and HNSW recall against exact.

Vectors are real embeddings (the static model, so 100k texts embed in seconds) of unique
generated sentences. The API path is the whole app in process, called as an ASGI server calls
it (middleware, auth, query parsing and embedding, FAISS, hydration from the database,
envelope), with no HTTP client inside the timing; the reference is `index.search` on
the very same FAISS index with the query already embedded. Targets: API p50 - FAISS p50
<= 2 ms; HNSW recall@10 against exact search >= 0.95; hybrid p50 - semantic p50 through the
API <= 3 ms (the full-text side and the fusion).

Every generated text ends with its number (`... #123`), so each query carries an identifier
that no record holds; hybrid is also timed on the same queries without it ("words only":
10-30 words, which few records hold all of) and on their first two words ("first two
words": common words that thousands of records hold, all ranked by the full text).

    .venv/bin/python -m bench.search            # 100k vectors
    .venv/bin/python -m bench.search --full     # 100k and 1M vectors
    .venv/bin/python -m bench.search --pg postgresql+asyncpg://postgres@127.0.0.1/x  # recreated
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import faiss
import numpy as np

from bench.embed import make_texts, quiet_settings
from foredeck.embedding.parts import EMBEDDER
from foredeck.index.parts import INDEX_MANAGER
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of

QUERIES = 500
# Warm-up queries, distinct from the timed ones, run through both paths first: a serving
# process is warm, and the FAISS reference is otherwise warmed by the timed queries themselves.
WARMUP = 200


async def call_asgi(app: Any, path_qs: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """One GET through the whole ASGI app (middleware, routing, auth, handler, envelope)."""
    path, _, query = path_qs.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def short(words: str) -> str:
    """The first two words that are not stop words: a short query of common words, which
    the full text has to rank among a large share of the records."""
    from foredeck.index.keyword import STOP_WORDS

    return " ".join([w for w in words.split() if w not in STOP_WORDS][:2])


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


async def load(app: Any, texts: list[str], vectors: np.ndarray) -> None:
    """Bulk-insert embedded records and their cached vectors, then rebuild the index."""
    from sqlalchemy import insert

    from foredeck.db import transaction
    from foredeck.index import service as index_service
    from foredeck.models.base import utcnow
    from foredeck.models.index import EmbeddingVector
    from foredeck.models.records import Memory
    from foredeck.records.service import content_hash

    model = runtime_of(app)[EMBEDDER].name
    now = utcnow()
    for start in range(0, len(texts), 20_000):
        chunk = texts[start : start + 20_000]
        hashes = [content_hash(t) for t in chunk]
        async with transaction(runtime_of(app).sessionmaker) as session:
            await session.execute(
                insert(Memory.__table__),  # type: ignore[arg-type]
                [
                    {
                        "content": t,
                        "memory_type": "note",
                        "collection": "bench",
                        "metadata": {},
                        "content_hash": h,
                        "embedding_state": "embedded",
                        "embedding_attempts": 0,
                        "embedded_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for t, h in zip(chunk, hashes, strict=True)
                ],
            )
            await session.execute(
                insert(EmbeddingVector.__table__),  # type: ignore[arg-type]
                [
                    {
                        "model": model,
                        "content_hash": h,
                        "dimension": vectors.shape[1],
                        "vector": vectors[start + i].tobytes(),
                        "created_at": now,
                    }
                    for i, h in enumerate(hashes)
                ],
            )
    await index_service.rebuild(runtime_of(app))


async def vacuum_postgres(url: str) -> None:
    """VACUUM ANALYZE memories: what autovacuum does soon after a bulk load. Until then the
    GIN index keeps the new rows in its pending list, which every full-text query scans
    (1.8 ms for one identifier at 100k fresh rows against 0.08 ms after)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("VACUUM ANALYZE memories")
    finally:
        await conn.close()


async def measure(n: int, database_url: str | None = None) -> dict[str, float]:
    from foredeck.app import create_app
    from foredeck.auth import service as auth_service
    from foredeck.auth.schemas import Role
    from foredeck.config import Config
    from foredeck.db import transaction

    texts = make_texts(n + QUERIES + WARMUP, seed=n)
    queries = texts[n : n + QUERIES]
    warmup = texts[n + QUERIES :]
    texts = texts[:n]
    if database_url:
        from bench.search_quality import recreate_postgres

        await recreate_postgres(database_url)
    with tempfile.TemporaryDirectory() as tmp:
        extra = {"database_url": database_url} if database_url else {}
        config = Config(
            data_dir=Path(tmp),
            embedding_model="static-64",
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
            embedder = runtime_of(app)[EMBEDDER]
            t0 = time.perf_counter()
            vectors = np.concatenate(
                [embedder.encode(texts[i : i + 20_000]) for i in range(0, n, 20_000)]
            )
            t1 = time.perf_counter()
            await load(app, texts, vectors)
            if database_url:
                await vacuum_postgres(database_url)
            t2 = time.perf_counter()
            wal = Path(tmp) / "foredeck.db-wal"
            print(f"  WAL after load: {wal.stat().st_size / 1e6 if wal.exists() else 0:.0f} MB")
            vindex = runtime_of(app)[INDEX_MANAGER].vindex
            print(
                f"  {n:,} vectors: embed {t1 - t0:.1f} s, "
                f"load + {vindex.kind} build {t2 - t1:.1f} s"
            )
            headers = {"Authorization": f"Bearer {secret}"}
            qvecs = embedder.encode(queries)

            # Reference: the raw FAISS call on the same index, same parameters.
            params: Any = None
            if vindex.kind == "hnsw":
                params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
                params.efSearch = vindex.ef_search
            # The faster of FAISS's default thread team and one thread is the reference.
            runs = []
            for threads in (faiss.omp_get_max_threads(), 1):
                faiss.omp_set_num_threads(threads)
                for q in embedder.encode(warmup):
                    vindex.index.search(q.reshape(1, -1), 10, params=params)
                raw = []
                for q in qvecs:
                    s = time.perf_counter()
                    vindex.index.search(q.reshape(1, -1), 10, params=params)
                    raw.append(time.perf_counter() - s)
                runs.append(raw)
            raw = min(runs, key=lambda r: float(np.median(r)))

            # The app is called as an ASGI server calls it, with no HTTP client in the timing:
            # httpx's in-process transport alone cost several ms a request here.
            async def one(query: str, mode: str) -> float:
                path = "/api/v1/search?" + urlencode({"q": query, "mode": mode, "k": 10})
                s = time.perf_counter()
                status, body = await call_asgi(app, path, headers)
                elapsed = time.perf_counter() - s
                assert status == 200 and len(json.loads(body)["data"]["hits"]) == 10, body[:300]
                return elapsed

            # The modes take turns query by query (the order alternating), so a drift in the
            # host's speed reaches all of them alike: timed in blocks, one after the other,
            # semantic and hybrid moved apart by several ms between blocks on this shared
            # host while the paired difference stayed ~0.3 ms.
            times: dict[str, list[float]] = {"semantic": [], "hybrid": [], "words": [], "short": []}
            for i, q in enumerate([*warmup, *queries]):
                words = q.rsplit(" #", 1)[0]
                runs = [("semantic", q), ("hybrid", q), ("words", words), ("short", short(words))]
                for key, text in runs if i % 2 else runs[::-1]:
                    elapsed = await one(text, "semantic" if key == "semantic" else "hybrid")
                    if i >= len(warmup):
                        times[key].append(elapsed)
            api, hybrid = times["semantic"], times["hybrid"]
            paired = {key: np.subtract(times[key], api).tolist() for key in times}

            # Recall@10 of the approximate index against exact search on the same vectors,
            # at the configured efSearch and around it.
            exact = faiss.IndexFlatIP(vectors.shape[1])
            exact.add(vectors)
            _, truth = exact.search(qvecs, 10)
            ids = vindex.slot_ids()
            sweep = {}
            for ef in sorted({64, vindex.ef_search, 256}):
                if params is not None:
                    params.efSearch = ef
                labels = vindex.index.search(qvecs, 10, params=params)[1]
                found = [{ids[i] for i in row if i >= 0} for row in labels]
                sweep[ef] = float(
                    np.mean(
                        [len(found[i] & {ids[j] for j in truth[i]}) / 10 for i in range(len(qvecs))]
                    )
                )
            recall = sweep[vindex.ef_search]
            print(
                "  recall@10 by efSearch: " + ", ".join(f"{e}: {r:.3f}" for e, r in sweep.items())
            )
            return {
                "n": n,
                "kind": 1.0 if vindex.kind == "hnsw" else 0.0,
                "raw_p50": pct(raw, 50),
                "raw_p99": pct(raw, 99),
                "api_p50": pct(api, 50),
                "api_p99": pct(api, 99),
                "hybrid_p50": pct(hybrid, 50),
                "hybrid_p95": pct(hybrid, 95),
                "hybrid_p99": pct(hybrid, 99),
                "api_p95": pct(api, 95),
                **{f"{key}_p50": pct(times[key], 50) for key in ("words", "short")},
                **{f"{key}_p95": pct(times[key], 95) for key in ("words", "short")},
                **{f"paired_{key}_p50": pct(paired[key], 50) for key in times},
                "recall": recall,
            }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="also measure 1M vectors")
    parser.add_argument("--sizes", type=int, nargs="*", help="vector counts to measure")
    parser.add_argument("--pg", help="run on this PostgreSQL URL instead (dropped and recreated)")
    # parse_known_args: `python -m bench embed search` passes the module names along.
    args, _ = parser.parse_known_args(argv)
    sizes = args.sizes or ([100_000, 1_000_000] if args.full else [100_000])
    for n in sizes:
        r = asyncio.run(measure(n, args.pg))
        kind = "hnsw" if r["kind"] else "flat"
        print(
            f"{n:,} vectors ({kind}): FAISS p50 {r['raw_p50']:.3f} ms p99 {r['raw_p99']:.3f} ms; "
            f"API p50 {r['api_p50']:.3f} ms p99 {r['api_p99']:.3f} ms; "
            f"overhead p50 {r['api_p50'] - r['raw_p50']:.3f} ms (target <= 2 ms); "
            f"recall@10 vs exact {r['recall']:.3f} (target >= 0.95)"
        )
        print(
            f"  {'PostgreSQL' if args.pg else 'SQLite'}: semantic API p50 {r['api_p50']:.3f} ms "
            f"p95 {r['api_p95']:.3f} ms; hybrid p50 {r['hybrid_p50']:.3f} ms "
            f"p95 {r['hybrid_p95']:.3f} ms p99 {r['hybrid_p99']:.3f} ms; "
            f"over semantic: p50 of each {r['hybrid_p50'] - r['api_p50']:.3f} ms, "
            f"median of the per-query difference {r['paired_hybrid_p50']:.3f} ms (target <= 3 ms)"
        )
        for key, what in (("words", "words only"), ("short", "first two words")):
            print(
                f"  hybrid, {what}: p50 {r[f'{key}_p50']:.3f} ms p95 {r[f'{key}_p95']:.3f} ms; "
                f"over semantic: p50 of each {r[f'{key}_p50'] - r['api_p50']:.3f} ms, "
                f"median of the per-query difference {r[f'paired_{key}_p50']:.3f} ms"
            )


if __name__ == "__main__":
    main()
