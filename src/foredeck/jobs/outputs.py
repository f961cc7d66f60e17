"""Job outputs: `GET /api/v1/jobs/{id}/download` asks the job kind's provider for a file.

The kinds that write files (exports, generated datasets) register a provider from their
handler modules, so the jobs domain serves every job's output without knowing the kinds.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from starlette.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from foredeck.errors import Conflict, NotFound
from foredeck.kit.runtime import Runtime


class FileStore(Protocol):
    """What a download is served from when it is not on this disk (a blob store)."""

    def size(self, key: str) -> int | None: ...

    def presigned_url(self, key: str, *, filename: str, media_type: str) -> str | None: ...

    def iter_chunks(self, key: str) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class Download:
    path: Path
    filename: str
    media_type: str = "application/octet-stream"
    # Set when the file is in a remote blob store (path is then where its writer had it);
    # the provider names the store, so the engine serves it without knowing the blob stores.
    key: str | None = None
    store: FileStore | None = None


# Every media type a provider may answer with (exports and generated datasets), declared in
# the OpenAPI document of the download route; a test checks each provider's formats are here.
MEDIA_TYPES = (
    "application/json",
    "application/octet-stream",
    "application/vnd.apache.parquet",
    "application/x-ndjson",
    "text/csv",
)

# (app state, job row[, query options]) -> the file to send; raise NotFound/Conflict when none.
DownloadProvider = Callable[..., Awaitable[Download]]
PROVIDERS: dict[str, DownloadProvider] = {}


def download_provider(kind: str) -> Callable[[DownloadProvider], DownloadProvider]:
    """Register the provider of downloadable output for jobs of this kind."""

    def register(fn: DownloadProvider) -> DownloadProvider:
        PROVIDERS[kind] = fn
        return fn

    return register


async def resolve(runtime: Runtime, job: Any, options: dict[str, str] | None = None) -> Download:
    """The file of a finished job, via its kind's provider (options: e.g. the format)."""
    provider = PROVIDERS.get(job.kind)
    if provider is None:
        raise NotFound(f"Jobs of kind {job.kind} have nothing to download")
    if job.status != "succeeded":
        raise Conflict(
            f"Job {job.id} is {job.status}; its output can be downloaded once it has succeeded",
            code="JOB_NOT_FINISHED",
        )
    # A provider that takes a third argument gets the query options (the generator's format).
    wants_options = len(inspect.signature(provider).parameters) >= 3
    download = await (
        provider(runtime, job, options or {}) if wants_options else provider(runtime, job)
    )
    if download.key is not None and download.store is not None:
        present = await asyncio.to_thread(download.store.size, download.key) is not None
    else:
        present = download.path.is_file()
    if not present:
        raise NotFound("The file is gone (removed by the retention policy); run the job again")
    return download


def respond(runtime: Runtime, found: Download) -> Response:
    """The file's response: from disk, streamed from the blob store, or a presigned redirect."""
    store = found.store
    if found.key is None or store is None:
        return FileResponse(found.path, media_type=found.media_type, filename=found.filename)
    url = store.presigned_url(found.key, filename=found.filename, media_type=found.media_type)
    if url is not None:
        return RedirectResponse(url, status_code=307)
    chunks = store.iter_chunks(found.key)
    # Chunks are read in a thread (iterate_in_threadpool), so a slow store never blocks the loop.
    return StreamingResponse(
        chunks,
        media_type=found.media_type,
        headers={"Content-Disposition": f'attachment; filename="{found.filename}"'},
    )
