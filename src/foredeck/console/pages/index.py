"""Index: figures, rebuild with live progress, snapshot download and restore."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response

from foredeck.auth.schemas import Role
from foredeck.console import data
from foredeck.console.web import (
    ConsoleRoute,
    done,
    page,
    publish_after,
    require,
    toast_headers,
)
from foredeck.embedding import service as embedding_service
from foredeck.embedding.parts import EMBED_WAKEUP
from foredeck.errors import PayloadTooLarge, ValidationFailed
from foredeck.index import snapshot
from foredeck.index.parts import INDEX_MANAGER
from foredeck.jobs import service as jobs_service
from foredeck.kit.deps import SessionDep
from foredeck.kit.runtime import get_runtime

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
SNAPSHOT_EXTENSIONS = (".tar",)


async def _context(request: Request, session: Any) -> dict[str, Any]:
    limit = int(getattr(get_runtime(request).config, "index_snapshot_max_bytes", 4 * 1024**3))
    last = await data.last_job(session, "index_rebuild")
    active = (
        last
        if last and last["job"].status in ("queued", "running", "paused", "cancelling")
        else None
    )
    return {
        "stats": await data.index_stats(request, session),
        "lock": await data.lock_holder(session, "index"),
        "last": last,
        "active": active,
        "max_bytes": limit,
        "extensions": SNAPSHOT_EXTENSIONS,
    }


@router.get("/ui/index")
async def index_page(request: Request, session: SessionDep) -> Response:
    """Vector index figures and maintenance."""
    context = await _context(request, session)
    return page(
        request, "index.html", "index", title="Index", topics="index,jobs,workers", **context
    )


@router.post("/ui/index/rebuild")
async def rebuild(request: Request, session: SessionDep) -> Response:
    """Start an index rebuild job (refused while the index lock is held)."""
    principal = require(request, Role.operator)
    job = await jobs_service.create_job(
        session, kind="index_rebuild", params={}, created_by=principal.user_id
    )
    response = done(
        request,
        f"Index rebuild started (job {job.id[:8]})",
        back="/ui/index",
        **{"fd:index-changed": True},
    )
    return publish_after(response, request, "index", {"action": "rebuild", "job_id": job.id})


@router.post("/ui/index/retry-embeddings")
async def retry_embeddings(request: Request, session: SessionDep) -> Response:
    """Queue every failed record for embedding again: the API's /embedding/retry."""
    require(request, Role.operator)
    requeued = await embedding_service.retry_failed(session)
    get_runtime(request)[EMBED_WAKEUP].set()
    noun = "record" if requeued == 1 else "records"
    response = done(
        request,
        f"Queued {requeued} failed {noun} for embedding again",
        back="/ui/index",
        **{"fd:index-changed": True},
    )
    return publish_after(response, request, "index", {"action": "retry_embeddings"})


@router.post("/ui/index/restore")
async def restore(request: Request, session: SessionDep) -> Response:
    """Restore an uploaded snapshot; the same checks and service as the API."""
    require(request, Role.admin)
    runtime = get_runtime(request)
    limit = int(runtime.config.index_snapshot_max_bytes)
    form = await request.form(max_part_size=limit)
    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        raise ValidationFailed.field("file", "Choose a snapshot file (.tar) to restore")
    if not upload.filename.lower().endswith(SNAPSHOT_EXTENSIONS):
        raise ValidationFailed.field("file", "A snapshot is a .tar file downloaded from foredeck")
    tmp_dir = Path(tempfile.mkdtemp(prefix="restore-", dir=runtime[INDEX_MANAGER].root))
    try:
        target = tmp_dir / "upload.tar"
        copied = 0
        out = await asyncio.to_thread(target.open, "wb")
        try:
            while block := await upload.read(1024 * 1024):
                copied += len(block)
                if copied > limit:
                    raise PayloadTooLarge(
                        f"The snapshot is larger than the limit of {limit} bytes",
                        code="SNAPSHOT_TOO_LARGE",
                    )
                await asyncio.to_thread(out.write, block)
        finally:
            out.close()
        manifest = await snapshot.restore(runtime, target)
    finally:
        await form.close()
        shutil.rmtree(tmp_dir, ignore_errors=True)
    checksum = str(manifest.get("checksum", ""))[:12]
    message = f"Snapshot restored: {manifest.get('count', '?')} vectors, checksum {checksum}"
    if request.headers.get("hx-request") == "true":
        context = await _context(request, session)
        response: Response = page(
            request,
            "index.html",
            "index",
            block="index_body",
            headers=toast_headers(message),
            **context,
        )
    else:
        response = done(request, message, back="/ui/index")
    return publish_after(response, request, "index", {"action": "restored"})
