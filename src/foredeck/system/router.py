"""Health probes (at the root) and `/api/v1/info`."""

from __future__ import annotations

import time
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from foredeck import __version__
from foredeck.blobs.health import FAILING as BLOB_FAILING
from foredeck.kit.envelope import Envelope, ok
from foredeck.kit.runtime import Runtime, RuntimeDep

router = APIRouter(tags=["health"])
API_VERSION = "1.0.0"
INFO_TTL = 30.0


class Health(BaseModel):
    status: Literal["healthy", "degraded", "unhealthy"]
    services: dict[str, str]
    version: str
    uptime: int
    mode: Literal["embedded", "scale-out"]


class Info(BaseModel):
    api_version: str
    version: str
    features_enabled: list[str]
    environment: str
    mode: Literal["embedded", "scale-out"]


async def check_database(runtime: Runtime) -> str:
    try:
        async with runtime.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return "connected"
    except Exception:
        return "disconnected"


async def check_redis(runtime: Runtime) -> str:
    redis = runtime.redis
    if redis is None:
        return "not_configured"
    try:
        await redis.ping()
        return "connected"
    except Exception:
        return "disconnected"


@router.get("/health", response_model=Health)
async def health(runtime: RuntimeDep) -> Any:
    """Status of the database, Redis and the task queue."""
    services = {"database": await check_database(runtime), "redis": await check_redis(runtime)}
    for name, check in runtime.health_checks.items():
        try:
            services[name] = await check(runtime)
        except Exception:
            services[name] = "disconnected"
    services.setdefault("task_queue", "not_configured")
    if services["database"] != "connected":
        status = "unhealthy"
    elif any(v in ("disconnected", "stale") or v in BLOB_FAILING for v in services.values()):
        status = "degraded"
    else:
        status = "healthy"
    body = Health(
        status=status,
        services=services,
        version=__version__,
        uptime=int(time.monotonic() - runtime.started_at),
        mode="embedded" if runtime.config.embedded else "scale-out",
    )
    return JSONResponse(body.model_dump(), status_code=503 if status == "unhealthy" else 200)


class Probe(BaseModel):
    status: Literal["ok", "fail"]
    checks: dict[str, str]


def _probe(checks: dict[str, str]) -> JSONResponse:
    healthy = all(v == "ok" for v in checks.values())
    body = Probe(status="ok" if healthy else "fail", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)


@router.get("/health/live", response_model=Probe, responses={503: {"model": Probe}})
async def live() -> JSONResponse:
    """The process is up and its event loop answers (restart it when this fails)."""
    return _probe({"process": "ok"})


@router.get("/health/ready", response_model=Probe, responses={503: {"model": Probe}})
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """Ready for traffic: started up, the database (and Redis, the LLM key when configured)
    usable; 503 with the failing checks otherwise."""
    checks = {"startup": "ok" if runtime.ready else "starting"}
    checks["database"] = "ok" if await check_database(runtime) == "connected" else "failed"
    if runtime.redis is not None:
        checks["redis"] = "ok" if await check_redis(runtime) == "connected" else "failed"
    for name, check in runtime.ready_checks.items():
        try:
            verdict = await check(runtime)
        except Exception:
            verdict = "failed"
        if verdict is not None:
            checks[name] = verdict
    return _probe(checks)


@router.get("/api/v1/info", response_model=Envelope[Info], tags=["info"])
async def info(runtime: RuntimeDep) -> Any:
    """API version, enabled features and environment."""
    cache = runtime.cache
    hit = await cache.get("info")
    if hit is None:
        config = runtime.config
        hit = Info(
            api_version=API_VERSION,
            version=__version__,
            features_enabled=sorted(runtime.features),
            environment=config.environment.value,
            mode="embedded" if config.embedded else "scale-out",
        ).model_dump()
        await cache.set("info", hit, INFO_TTL)
    return ok(hit)


def mount(app: FastAPI) -> None:
    from foredeck.system import apidocs

    apidocs.mount(app)
