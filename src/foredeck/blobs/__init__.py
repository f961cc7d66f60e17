"""Blob storage: uploads, export files and index checkpoints, in the data dir or in S3."""

from foredeck.blobs.store import (
    BlobMissing,
    BlobStore,
    BlobStoreError,
    LocalBlobStore,
    open_store,
    store_for,
)

__all__ = [
    "BlobMissing",
    "BlobStore",
    "BlobStoreError",
    "LocalBlobStore",
    "open_store",
    "store_for",
]
