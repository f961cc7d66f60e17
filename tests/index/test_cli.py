"""The index CLI on its own data dir: stats, search, rebuild, snapshot save and restore."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.conftest import TEST_DB_URL

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(TEST_DB_URL), reason="uses its own SQLite data dir"),
]


def foredeck(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FOREDECK_DATA_DIR": str(data_dir),
        "FOREDECK_EMBEDDING_MODEL": "static-64",
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "foredeck.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.timeout(600)  # a dozen CLI processes on a shared machine
def test_cli_round_trip(tmp_path: Path) -> None:
    data = tmp_path / "data"
    seed = (
        "import asyncio, sys\n"
        "from foredeck.cli.common import load_config, run_in_session\n"
        "from foredeck.records import service as rs\n"
        "from foredeck.embedding import service as es, registry\n"
        "async def fn(s):\n"
        "    for t in ['lighthouse keepers watch the sea', 'bakers knead dough at dawn']:\n"
        "        await rs.create_memory(s, content=t, collection='cli')\n"
        "    await s.flush()\n"
        "    e = registry.load_embedder(load_config(), 'static-64')\n"
        "    await es.embed_batch(s, e, load_config(), limit=100)\n"
        "run_in_session(load_config(), fn)\n"
    )
    env = {**os.environ, "FOREDECK_DATA_DIR": str(data), "FOREDECK_EMBEDDING_MODEL": "static-64"}
    subprocess.run([sys.executable, "-c", seed], env=env, check=True, timeout=300)

    stats = foredeck(data, "index", "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["vector_count"] == 2

    found = foredeck(data, "search", "sea lighthouse", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)["hits"]
    assert hits[0]["memory"]["content"] == "lighthouse keepers watch the sea"

    rebuilt = foredeck(data, "index", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt: 2 vectors" in rebuilt.stdout

    snap = tmp_path / "snap.tar"
    saved = foredeck(data, "index", "snapshot", "save", str(snap))
    assert saved.returncode == 0, saved.stderr
    assert snap.stat().st_size > 0
    restored = foredeck(data, "index", "snapshot", "restore", str(snap))
    assert restored.returncode == 0, restored.stderr
    assert "restored 2 vectors" in restored.stdout

    # Intact files under a manifest that lies about the index's checksum: refused, naming it.
    lying = tmp_path / "lying.tar"
    with tarfile.open(snap) as source, tarfile.open(lying, "w", format=tarfile.USTAR_FORMAT) as out:
        for member in source:
            blob = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                manifest = json.loads(blob)
                manifest["checksum"] = hashlib.sha256(b"another index").hexdigest()
                blob = json.dumps(manifest).encode()
                member.size = len(blob)
            out.addfile(member, io.BytesIO(blob))
    lied = foredeck(data, "index", "snapshot", "restore", str(lying))
    assert lied.returncode == 1, lied.stdout
    assert "SNAPSHOT_CHECKSUM_MISMATCH" in lied.stderr and "index.faiss" in lied.stderr
    after = foredeck(data, "index", "stats", "--json")
    with tarfile.open(snap) as source:
        saved_manifest = json.loads(source.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert json.loads(after.stdout)["checksum"] == saved_manifest["checksum"]

    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"nothing useful" * 100)
    refused = foredeck(data, "index", "snapshot", "restore", str(garbage))
    assert refused.returncode == 1 and "SNAPSHOT_NOT_TAR" in refused.stderr

    empty = foredeck(data, "search", "   ")
    assert empty.returncode == 2
