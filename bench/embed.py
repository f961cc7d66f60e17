"""Embedding pipeline throughput against bare `model.encode` on the same texts, same run.

The pipeline is the real thing: records are inserted, the app's loop queues an `embed` job,
the embedded worker pool runs it (claim, cache lookup, encode, store vectors, mark embedded,
log index changes, index sync). The reference encodes the same texts in the same batch size.
Target: pipeline >= 0.85x bare encode with the default model (MiniLM).

    .venv/bin/python -m bench.embed [--model all-MiniLM-L6-v2|static-64] [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from foredeck.embedding.parts import EMBED_WAKEUP
from foredeck.index.parts import INDEX_MANAGER
from foredeck.jobs.settings import JOB_SETTINGS
from foredeck.kit.runtime import runtime_of

WORDS = (
    "river mountain signal harbor engine ledger garden winter copper lantern market violin "
    "orbit granite meadow archive compass thunder velvet canyon beacon harvest mirror falcon "
    "quartz timber cobalt prairie glacier summit ember willow saddle marble tunnel voyage "
    "anchor circuit meadow rocket shelter island pepper candle forest silver canvas bridge "
    "the a of to and in on with for by from over under about after before during"
).split()


def make_texts(n: int, seed: int = 7) -> list[str]:
    """Unique sentences of 10-30 words (so nothing is served from the embedding cache)."""
    rng = np.random.default_rng(seed)
    vocab = np.array(WORDS)
    out = []
    for i in range(n):
        words = vocab[rng.integers(0, len(vocab), rng.integers(10, 30))]
        out.append(f"{' '.join(words)} #{i}")
    return out


def quiet_settings() -> object:
    """Telemetry off the measured path: one snapshot at start, then none during the run."""
    from foredeck.jobs.settings import JobSettings

    return JobSettings(telemetry_interval_seconds=3600)


def _encode_all(embedder: object, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        embedder.encode(texts[i : i + batch])  # type: ignore[attr-defined]
    return len(texts) / (time.perf_counter() - started)


def bare(embedder: object, texts: list[str], batch: int) -> float:
    """The faster of encoding on the main thread and on a fresh thread (torch's intra-op
    threads behave differently on each, and the pipeline encodes on a worker thread)."""
    out: list[float] = []
    worker = threading.Thread(target=lambda: out.append(_encode_all(embedder, texts, batch)))
    worker.start()
    worker.join()
    return max(out[0], _encode_all(embedder, texts, batch))


async def pipeline(model: str, texts: list[str], batch: int) -> float:
    from sqlalchemy import func, insert, select

    from foredeck.app import create_app
    from foredeck.config import Config
    from foredeck.db import transaction
    from foredeck.models.base import utcnow
    from foredeck.models.records import Memory
    from foredeck.records.service import content_hash

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            data_dir=Path(tmp),
            embedding_model=model,
            embedding_batch_size=batch,
            embedding_poll_seconds=0.05,
            workers=2,
            rate_limit_enabled=False,
            log_level="WARNING",
        )
        app = create_app(config)
        runtime_of(app)[JOB_SETTINGS] = quiet_settings()
        async with app.router.lifespan_context(app):
            now = utcnow()
            rows = [
                {
                    "content": t,
                    "memory_type": "note",
                    "collection": "bench",
                    "metadata": {},
                    "content_hash": content_hash(t),
                    "embedding_state": "pending",
                    "embedding_attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                }
                for t in texts
            ]
            started = time.perf_counter()
            async with transaction(runtime_of(app).sessionmaker) as session:
                await session.execute(insert(Memory.__table__), rows)  # type: ignore[arg-type]
            runtime_of(app)[EMBED_WAKEUP].set()
            while True:
                async with runtime_of(app).sessionmaker() as session:
                    done = await session.scalar(
                        select(func.count()).where(Memory.embedding_state == "embedded")
                    )
                if done == len(texts) and runtime_of(app)[INDEX_MANAGER].vindex.count == len(texts):
                    break
                await asyncio.sleep(0.02)
            return len(texts) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    parser.add_argument(
        "--n", type=int, default=0, help="texts (default 1000 MiniLM, 20000 static)"
    )
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    # parse_known_args: `python -m bench embed search` passes the module names along.
    args, _ = parser.parse_known_args(argv)
    from foredeck.config import Config
    from foredeck.embedding import registry

    n = args.n or (1000 if args.model == registry.MINILM else 20_000)
    texts = make_texts(n)
    embedder = registry.load_embedder(Config(), args.model)
    embedder.encode(texts[:64])  # warm up
    # Alternate the two so drifting CPU speed (shared machine) hits both alike.
    bare_rates, pipe_rates = [], []
    for _ in range(args.rounds):
        bare_rates.append(bare(embedder, texts, args.batch))
        pipe_rates.append(asyncio.run(pipeline(args.model, texts, args.batch)))
    ref, got = statistics.median(bare_rates), statistics.median(pipe_rates)
    fmt = ", ".join
    print(f"model {args.model}, {n} unique texts, batch {args.batch}, {args.rounds} rounds")
    print(f"bare model.encode: {ref:,.0f} texts/s (runs {fmt(f'{r:,.0f}' for r in bare_rates)})")
    print(f"foredeck pipeline: {got:,.0f} texts/s (runs {fmt(f'{r:,.0f}' for r in pipe_rates)})")
    print(f"ratio: {got / ref:.2f}x (target >= 0.85x)")


if __name__ == "__main__":
    main()
