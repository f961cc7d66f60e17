"""Index checkpoint folders on disk: immutable, written into staging, renamed into place.

Layout under `config.path("index")` (a path every process of a deployment must share):
`gen-<time>-<rand>/{index.faiss, ids.npy, manifest.json}` and `.staging-*` while writing.
The `index_state` row names the live folder, so swapping is one committed row update.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from foredeck.index.vectors import VectorIndex
from foredeck.models.base import utcnow

FORMAT = "foredeck-index"
FORMAT_VERSION = 1
FILES = ("index.faiss", "ids.npy")
MANIFEST = "manifest.json"
STAGING_PREFIX = ".staging-"
STALE_STAGING_SECONDS = 24 * 3600


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def new_staging(root: Path) -> Path:
    staging = root / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    return staging


def make_manifest(vindex: VectorIndex, folder: Path, *, model: str) -> dict[str, Any]:
    files = {name: sha256_file(folder / name) for name in FILES}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model,
        "dimension": vindex.dimension,
        "index_type": vindex.kind,
        "count": vindex.count,
        "total": vindex.total,
        "created_at": utcnow().isoformat(),
        "files": files,
        "checksum": files["index.faiss"],
    }


def publish(root: Path, staging: Path) -> str:
    """Make a finished staging folder a generation folder (atomic rename); returns its name."""
    for name in (*FILES, MANIFEST):
        _fsync(staging / name)
    name = f"gen-{time.time_ns()}-{uuid.uuid4().hex[:8]}"
    os.rename(staging, root / name)
    _fsync(root)
    return name


def write_generation(root: Path, vindex: VectorIndex, *, model: str) -> tuple[str, dict[str, Any]]:
    """Write vindex as a new generation folder; returns (folder name, manifest)."""
    staging = new_staging(root)
    try:
        vindex.write(staging)
        manifest = make_manifest(vindex, staging, model=model)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2))
        return publish(root, staging), manifest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text())  # type: ignore[no-any-return]


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def cleanup(root: Path, keep: set[str]) -> None:
    """Remove generation folders not in keep, and staging folders abandoned long ago."""
    now = time.time()
    for entry in root.iterdir():
        if entry.name.startswith("gen-") and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith(STAGING_PREFIX):
            if now - entry.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)
