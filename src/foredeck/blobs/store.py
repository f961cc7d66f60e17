"""The blob store interface and its local-folder backend (the embedded default).

Every method is synchronous and may block on I/O: callers on the event loop run them with
`asyncio.to_thread`. Keys are '/'-separated paths such as `imports/uploads/<id>/data.csv`; the
local backend keeps the same layout under the data dir that foredeck always used, so moving
from one backend to the other changes no key."""

from __future__ import annotations

import os
import shutil
import uuid
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

from foredeck.errors import ServiceUnavailable

if TYPE_CHECKING:
    from foredeck.config import Config

CHUNK = 1 << 20


class BlobStoreError(ServiceUnavailable):
    """The store cannot be used (unreachable, credentials refused, no bucket)."""

    code = "BLOB_STORE_UNAVAILABLE"


class BlobMissing(KeyError):
    """No object under that key."""


def check_key(key: str) -> str:
    """A key that cannot climb out of the store's root."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"not a blob key: {key!r}")
    return key


class BlobStore(Protocol):
    kind: str

    def put(self, key: str, stream: IO[bytes]) -> int:
        """Write the stream's bytes under key (replacing it); the number written.

        When the stream raises, no object is left under key."""

    def put_file(self, key: str, path: Path) -> int:
        """Write a local file under key."""

    def open(self, key: str) -> IO[bytes]:
        """A readable binary stream of the object; BlobMissing when there is none."""

    def iter_chunks(self, key: str, chunk: int = CHUNK) -> Iterator[bytes]:
        """The object's bytes in chunks; BlobMissing when there is none."""

    def fetch(self, key: str, target: Path) -> Path:
        """A local file with the object's bytes (the object itself when it is local)."""

    def size(self, key: str) -> int | None:
        """The object's size, or None when there is none."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object (no error when it is already gone)."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with prefix + '/'; how many were removed."""

    def list_keys(self, prefix: str) -> list[str]:
        """The keys of every object whose key starts with prefix + '/', sorted."""

    def local_path(self, key: str) -> Path | None:
        """Where the object lies on this machine's disk (local backend only)."""

    def presigned_url(self, key: str, *, filename: str, media_type: str) -> str | None:
        """A time-limited URL a client can download the object from, when configured."""

    def check(self) -> str:
        """`local`, `connected`, or why the store cannot be used (never hangs)."""


class LocalBlobStore:
    """Objects as files under a root folder (the data dir)."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, stream: IO[bytes]) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed, so a reader never sees half an object
        # and a failed write leaves none.
        partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            with open(partial, "wb") as out:
                shutil.copyfileobj(stream, out, CHUNK)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return target.stat().st_size

    def put_file(self, key: str, path: Path) -> int:
        target = self._path(key)
        if target.resolve() == path.resolve():
            return target.stat().st_size
        with open(path, "rb") as src:
            return self.put(key, src)

    def open(self, key: str) -> IO[bytes]:
        try:
            return open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError):
            raise BlobMissing(key) from None

    def iter_chunks(self, key: str, chunk: int = CHUNK) -> Iterator[bytes]:
        with self.open(key) as src:
            while data := src.read(chunk):
                yield data

    def fetch(self, key: str, target: Path) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise BlobMissing(key)
        return path

    def size(self, key: str) -> int | None:
        path = self._path(key)
        return path.stat().st_size if path.is_file() else None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        folder = self._path(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count

    def list_keys(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in folder.rglob("*")
            if p.is_file() and not p.name.endswith(".part")
        )

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def presigned_url(self, key: str, *, filename: str, media_type: str) -> str | None:
        return None

    def check(self) -> str:
        return "local" if os.access(self.root, os.W_OK) else "not_writable"


def open_store(config: Config) -> BlobStore:
    """The backend the configuration names (FOREDECK_BLOB_STORE)."""
    if config.blob_store == "s3":
        # boto3 costs ~0.3 s to import, so only processes configured for S3 pay it.
        from foredeck.blobs.s3 import S3BlobStore

        return S3BlobStore.from_config(config)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return LocalBlobStore(config.data_dir)


# One store per Config object, as long as it lives: a store holds clients and connection pools.
# Keyed by id (a Config is not hashable); a finalizer drops the entry with its config.
_STORES: dict[int, BlobStore] = {}


def store_for(config: Config) -> BlobStore:
    """The blob store this config's process uses, built on first use."""
    store = _STORES.get(id(config))
    if store is None:
        store = _STORES.setdefault(id(config), open_store(config))
        weakref.finalize(config, _STORES.pop, id(config), None)
    return store
