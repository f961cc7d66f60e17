"""The blob store's line in `/health`: bounded, so a store that never answers cannot hold it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from foredeck.config import Config

from foredeck.blobs.store import store_for

# Verdicts of BlobStore.check that make /health degraded (the store is configured but unusable).
FAILING = {
    "unreachable",
    "timeout",
    "credentials_refused",
    "no_bucket",
    "no_credentials",
    "misconfigured",
    "not_writable",
}


async def blob_store_health(config: Config) -> str:
    try:
        store = store_for(config)
    except (ValueError, OSError):
        return "misconfigured"
    limit = config.s3_connect_timeout_s + config.s3_read_timeout_s + 1
    try:
        verdict: str = await asyncio.wait_for(asyncio.to_thread(store.check), limit)
    except TimeoutError:
        return "timeout"
    return verdict
