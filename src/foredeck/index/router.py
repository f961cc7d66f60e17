"""HTTP routes of the index domain: stats, rebuild, snapshots, search and seed 002's RAG list."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from foredeck.auth.deps import Admin, Operator, Viewer
from foredeck.errors import ValidationFailed
from foredeck.index import search as search_service
from foredeck.index import service as index_service
from foredeck.index import snapshot as snapshot_service
from foredeck.index import store
from foredeck.index.parts import INDEX_MANAGER
from foredeck.index.schemas import (
    MAX_K,
    MAX_QUERY_CHARS,
    IndexStats,
    RagIndex,
    RestoreResult,
    SearchMode,
    SearchRequest,
    SearchResult,
)
from foredeck.kit.deps import LazySession, SessionDep
from foredeck.kit.envelope import Envelope, ok
from foredeck.kit.runtime import Runtime, RuntimeDep, get_runtime
from foredeck.records.schemas import COLLECTION_PATTERN, MemoryType

router = APIRouter(tags=["index"])


@router.get("/api/v1/index", response_model=Envelope[IndexStats])
async def index_stats(runtime: RuntimeDep, _: Viewer, session: SessionDep) -> Any:
    """Vector count, pending count, bytes on disk, type, model, last rebuild and checksum."""
    return ok(await index_service.stats(session, runtime))


@router.get(
    "/api/v1/index/snapshot",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The snapshot as a tar file",
            "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def download_snapshot(runtime: RuntimeDep, _: Operator) -> StreamingResponse:
    """Stream a snapshot (tar: index.faiss, ids.npy, manifest.json) of the live index."""
    folder = await snapshot_service.snapshot_folder(runtime)
    manifest = await asyncio.to_thread(store.read_manifest, folder)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        snapshot_service.tar_stream(folder),
        media_type="application/x-tar",
        headers={
            "Content-Disposition": f'attachment; filename="foredeck-index-{stamp}.tar"',
            "X-Index-Checksum": manifest["checksum"],
        },
    )


# The upload is read from the raw request (streamed to disk under a size limit), so the body is
# declared here for the OpenAPI document, the generated client and the MCP tools.
SNAPSHOT_FORM = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A snapshot tar from GET /api/v1/index/snapshot",
                    }
                },
            }
        }
    },
}


@router.post(
    "/api/v1/index/snapshot",
    response_model=Envelope[RestoreResult],
    openapi_extra={"requestBody": SNAPSHOT_FORM},
)
async def restore_snapshot(
    request: Request, runtime: RuntimeDep, _: Admin, session: SessionDep
) -> Any:
    """Restore a snapshot (multipart field `file`); verified in staging, then swapped in."""
    limit = runtime.config.index_snapshot_max_bytes
    form = await request.form(max_part_size=limit)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise ValidationFailed.field("file", "Send the snapshot as the multipart field 'file'")
    tmp_dir = Path(tempfile.mkdtemp(prefix="restore-", dir=runtime[INDEX_MANAGER].root))
    try:
        target = tmp_dir / "upload.tar"
        await asyncio.to_thread(snapshot_service.save_upload, upload.file, target, limit)
        manifest = await snapshot_service.restore(runtime, target)
    finally:
        await form.close()
        shutil.rmtree(tmp_dir, ignore_errors=True)
    stats = await index_service.stats(session, runtime)
    return ok(RestoreResult(restored=True, manifest=manifest, stats=stats))


@router.post("/api/v1/search", response_model=Envelope[SearchResult])
async def search_post(body: SearchRequest, request: Request, _: Viewer) -> Any:
    """Semantic, keyword or hybrid search with filters."""
    return await _run_search(get_runtime(request), body)


async def _run_search(runtime: Runtime, body: SearchRequest) -> Response:
    # A lazy session: the unfiltered semantic path on SQLite never needs one.
    async with LazySession(runtime.sessionmaker) as session:
        result = await search_service.search(session, runtime, body)
    return _search_response(result)


def _search_response(result: SearchResult) -> Response:
    # Already validated by construction: serialise once instead of re-validating (hot path).
    payload = result.model_dump_json()
    return Response(
        f'{{"success":true,"data":{payload},"meta":null}}', media_type="application/json"
    )


@router.get("/api/v1/search", response_model=Envelope[SearchResult])
async def search_get(
    request: Request,
    _: Viewer,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS, description="The query")],
    mode: SearchMode = SearchMode.hybrid,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    collection: Annotated[str | None, Query(pattern=COLLECTION_PATTERN)] = None,
    memory_type: MemoryType | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    metadata: Annotated[
        list[str] | None, Query(description="key=value, repeatable", max_length=20)
    ] = None,
) -> Any:
    """Search by query string (the same search as POST)."""
    meta: dict[str, str] = {}
    for item in metadata or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationFailed.field("metadata", f"{item!r} is not key=value")
        meta[key] = value
    try:
        body = SearchRequest(
            query=q,
            mode=mode,
            k=k,
            collection=collection,
            memory_type=memory_type,
            metadata=meta,
            created_after=created_after,
            created_before=created_before,
        )
    except ValueError as exc:
        raise ValidationFailed.field("q", str(exc).splitlines()[-1]) from exc
    return await _run_search(get_runtime(request), body)


@router.get("/api/v1/rag", response_model=Envelope[list[RagIndex]])
async def rag_indices(runtime: RuntimeDep, _: Viewer, session: SessionDep) -> Any:
    """The vector search indices with their stats (seed 002's RAG resource)."""
    return ok(await index_service.rag_indices(session, runtime))
