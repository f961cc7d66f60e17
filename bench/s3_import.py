"""An uploaded CSV imported through the S3 blob store against the local-folder store, same run.

Both sides start where an upload leaves the file: received on the replica's disk under
imports/uploads/<id>/. Local: the import engine reads it there. S3 (scale-out): the file is
put into the bucket and removed locally (what the upload endpoint does before its job commits),
then the import fetches it into its job folder and reads it, as a worker on another machine
would. The clock covers all of that, to committed rows; each side writes into a fresh SQLite
database built by foredeck's migrations. The S3 server is moto's, in its own process on
127.0.0.1 (a real store is another machine; here it shares the two cores). Target: >= 0.8x.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

# The same rows as bench.import (a module whose name is a keyword).
_bench_import = importlib.import_module("bench.import")
make_csv = _bench_import.make_csv
BUCKET = "bench"
KEY_ID, SECRET = "bench-key", "bench-secret-value"
UPLOAD = "uploads/bench/rows.csv"


class _Quiet:
    async def progress(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def check(self) -> None:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_moto(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with open(root / "moto.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    end = time.monotonic() + 30
    while True:
        assert proc.poll() is None, (root / "moto.log").read_text()
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            assert time.monotonic() < end, "moto's server did not start within 30 s"
            time.sleep(0.2)
    import boto3

    boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    ).create_bucket(Bucket=BUCKET)
    return proc, url


async def _import(data_dir: Path, csv_path: Path, rows: int, s3: dict[str, Any] | None) -> float:
    from foredeck import migrate
    from foredeck.blobs import store_for
    from foredeck.config import Config
    from foredeck.db import make_engine
    from foredeck.kit.runtime import Runtime
    from foredeck.operations.imports.run import run_import
    from foredeck.operations.schemas import ImportParams
    from foredeck.operations.sources import blobfiles

    config = Config(data_dir=data_dir, **(s3 or {}))
    await asyncio.to_thread(migrate.upgrade, config)
    engine = make_engine(config)
    state = Runtime(config, engine=engine)
    received = config.path("imports", "uploads", "bench") / "rows.csv"
    await asyncio.to_thread(shutil.copyfile, csv_path, received)
    params = ImportParams(path=UPLOAD, collection="bench", mapping={"metadata": ["source"]})
    # A process builds its S3 client once; building it is not what one import costs.
    verdict = await asyncio.to_thread(store_for(config).check)
    assert s3 is None or verdict == "connected", verdict
    try:
        start = time.perf_counter()
        await blobfiles.publish_upload(config, UPLOAD)
        result = await run_import(state, params, _Quiet(), owner_id=None, work_dir=data_dir / "w")
        seconds = time.perf_counter() - start
    finally:
        await engine.dispose()
    assert result["inserted"] == rows, result
    if s3 is not None:
        assert not received.exists(), "the S3 side must not read the replica's local copy"
    return seconds


def _transfer(root: Path, csv_path: Path, s3: dict[str, Any]) -> tuple[float, float]:
    """The store's share: one put and one fetch of the same file, with no import around them."""
    from foredeck.blobs import store_for
    from foredeck.config import Config

    store = store_for(Config(data_dir=root / "transfer", **s3))
    assert store.check() == "connected"
    start = time.perf_counter()
    store.put_file("transfer/rows.csv", csv_path)
    put_s = time.perf_counter() - start
    start = time.perf_counter()
    store.fetch("transfer/rows.csv", root / "transfer" / "fetched.csv")
    return put_s, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 rows")
    parser.add_argument("--rounds", type=int, default=3)
    args, _ = parser.parse_known_args(argv)
    n = 1_000_000 if args.full else args.rows
    local, remote = [], []
    with tempfile.TemporaryDirectory(prefix="fd-bench-s3-") as tmp:
        root = Path(tmp)
        csv_path = root / "rows.csv"
        make_csv(csv_path, n)
        _bench_import._warm_workers()
        secret_file = root / "s3-secret"
        secret_file.write_text(SECRET)
        proc, url = _start_moto(root)
        s3 = {
            "blob_store": "s3",
            "s3_endpoint_url": url,
            "s3_bucket": BUCKET,
            "s3_region": "us-east-1",
            "s3_access_key_id": KEY_ID,
            "s3_secret_access_key_file": secret_file,
        }
        try:
            for r in range(args.rounds):
                # Alternate the order so neither side always runs on a warmer machine.
                for which in ("local", "s3") if r % 2 == 0 else ("s3", "local"):
                    folder = root / f"{which}{r}"
                    if which == "local":
                        local.append(asyncio.run(_import(folder, csv_path, n, None)))
                    else:
                        remote.append(asyncio.run(_import(folder, csv_path, n, s3)))
            put_s, fetch_s = _transfer(root, csv_path, s3)
        finally:
            proc.terminate()
            proc.wait(10)
        size = csv_path.stat().st_size
    lo, s3m = statistics.median(local), statistics.median(remote)
    print(f"rows: {n:,} ({size / 1e6:.0f} MB CSV), rounds: {args.rounds} (median)")
    print("rounds, s: local " + " ".join(f"{x:.1f}" for x in local), end="")
    print(" / S3 " + " ".join(f"{x:.1f}" for x in remote))
    print(f"local-folder store: {n / lo:,.0f} rows/s ({lo:.2f} s)")
    print(f"S3 store (moto):    {n / s3m:,.0f} rows/s ({s3m:.2f} s, put + fetch + import)")
    print(f"ratio S3 / local: {lo / s3m:.2f}x (target >= 0.8x)")
    print(f"of the S3 side, the transfer alone: put {put_s:.2f} s, fetch {fetch_s:.2f} s")


if __name__ == "__main__":
    main()
