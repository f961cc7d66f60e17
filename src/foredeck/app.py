"""create_app(config) and the lifespan: every long-lived object is built here."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from foredeck import __version__, migrate

# Imported for its effect: every job kind registered in any process that builds the app.
from foredeck import kinds as _kinds  # noqa: F401
from foredeck.auth import router as auth_router
from foredeck.auth.deps import request_principal
from foredeck.config import Config
from foredeck.console import lifecycle as console_lifecycle
from foredeck.console import router as console_router
from foredeck.db import make_engine, make_sessionmaker
from foredeck.embedding import lifecycle as embedding_lifecycle

# Imported for their effect, like kinds: the settings checks that embedding.registry and
# operations.sources.sheets register (settings imports neither), in every process.
from foredeck.embedding import registry as _embedding_registry  # noqa: F401
from foredeck.embedding import router as embedding_router
from foredeck.generator import lifecycle as generator_lifecycle
from foredeck.generator import router as generator_router
from foredeck.index import lifecycle as index_lifecycle
from foredeck.index import router as index_router
from foredeck.jobs import lifecycle as jobs_lifecycle
from foredeck.jobs import router as jobs_router
from foredeck.kit.cache import RedisCache
from foredeck.kit.envelope import ERROR_RESPONSES, install_error_handlers
from foredeck.kit.middleware import GZipForGzipClients, RequestContextMiddleware
from foredeck.kit.ratelimit import RateLimiter
from foredeck.kit.roles import install_resolver
from foredeck.kit.runtime import Runtime, runtime_of
from foredeck.kit.writes import dispose_sync_engine
from foredeck.logging import configure_logging, get_logger
from foredeck.mcp import lifecycle as mcp_lifecycle
from foredeck.mcp import router as mcp_router
from foredeck.operations import lifecycle as operations_lifecycle
from foredeck.operations import router as operations_router
from foredeck.operations.sources import sheets as _sheets  # noqa: F401
from foredeck.records import router as records_router
from foredeck.records.reads import RECORD_READER, make_reader
from foredeck.registry import lifecycle as registry_lifecycle
from foredeck.registry import router as registry_router
from foredeck.schedules import lifecycle as schedules_lifecycle
from foredeck.schedules import router as schedules_router
from foredeck.settings import lifecycle as settings_lifecycle
from foredeck.settings import router as settings_router
from foredeck.system import router as system_router
from foredeck.telemetry import lifecycle as telemetry_lifecycle
from foredeck.telemetry import router as telemetry_router
from foredeck.telemetry.metrics import Metrics
from foredeck.telemetry.parts import METRICS
from foredeck.workers import lifecycle as workers_lifecycle
from foredeck.workers import router as workers_router

log = get_logger(__name__)

# Domains with routes, in the order their routes are matched. Records first: FastAPI matches
# routes in order and record reads are the hottest path; search is one too, so it comes next.
ROUTERS: list[ModuleType] = [
    records_router,
    index_router,
    system_router,
    auth_router,
    jobs_router,
    workers_router,
    telemetry_router,
    embedding_router,
    operations_router,
    settings_router,
    generator_router,
    registry_router,
    schedules_router,
    mcp_router,
    console_router,
]

# Domains with start-up work, started in this order and stopped in reverse. Each has
# startup(runtime) and shutdown(runtime): the Celery worker runs them without an app.
LIFECYCLES: list[ModuleType] = [
    settings_lifecycle,
    embedding_lifecycle,
    index_lifecycle,
    jobs_lifecycle,
    workers_lifecycle,
    telemetry_lifecycle,
    operations_lifecycle,
    generator_lifecycle,
    registry_lifecycle,
    schedules_lifecycle,
    console_lifecycle,
]


def _announce_login(login: tuple[str, str], config: Config) -> None:
    username, password = login
    url = f"http://{config.host}:{config.port}/"
    if config.effective_log_format == "json":
        # Shown once on stdout, never through the log pipeline (a secret is no log line).
        note = {"event": "first_admin_created", "url": url, "username": username}
        print(json.dumps({**note, "password": password}), flush=True)
        return
    print(
        "\n  foredeck created the first admin user.\n"
        f"  Sign in at {url} with\n"
        f"      username: {username}\n"
        f"      password: {password}\n"
        "  This password is shown once; change it after signing in (/ui/account).\n",
        flush=True,
    )


@asynccontextmanager
async def running(runtime: Runtime) -> AsyncIterator[Runtime]:
    """Start every long-lived object of this process on runtime, and stop them after."""
    config = runtime.config
    if config.auto_migrate:
        await asyncio.to_thread(migrate.upgrade, config)
    engine = make_engine(config)
    runtime.engine = engine
    runtime.sessionmaker = make_sessionmaker(engine)
    if config.redis_url:
        import redis.asyncio as redis_asyncio

        runtime.redis = redis_asyncio.from_url(config.redis_url)
        runtime.cache = RedisCache(runtime.redis)
    from foredeck.auth import service as auth_service

    login = await auth_service.first_admin(runtime.sessionmaker)
    if login is not None:
        _announce_login(login, config)
    reader = make_reader(config)
    if reader is not None:
        runtime[RECORD_READER] = reader
    started = []
    try:
        for module in LIFECYCLES:
            await module.startup(runtime)
            started.append(module)
        # What startup built (modules, the model, the app) lives as long as the process. Frozen,
        # a full collection no longer walks it: ~185 ms less of loop stall each time one runs.
        # Not undone at shutdown: frozen objects are still freed by their reference counts, and
        # another runtime in this process (tests, the CLI) may be counting on its own freeze.
        gc.collect()
        gc.freeze()
        runtime.ready = True
        log.info("foredeck_started", version=__version__, embedded=config.embedded)
        yield runtime
    finally:
        runtime.ready = False
        for module in reversed(started):
            try:
                await module.shutdown(runtime)
            except Exception:
                log.exception("shutdown_failed", module=module.__name__)
        if runtime.redis is not None:
            await runtime.redis.aclose()
        if reader is not None:
            runtime.pop(RECORD_READER)
            reader.close()
        dispose_sync_engine(runtime)
        await engine.dispose()
        log.info("foredeck_stopped")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime = runtime_of(app)
    async with running(runtime):
        # MCP serves through the app itself (its tool calls are in-process requests).
        await mcp_lifecycle.startup(runtime, app)
        try:
            yield
        finally:
            await mcp_lifecycle.shutdown(runtime)


def create_app(config: Config | None = None) -> FastAPI:
    config = config or Config()
    configure_logging(config.effective_log_format, config.log_level)
    app = FastAPI(
        title="foredeck",
        version=__version__,
        summary="Operations server for a store of text records with vector search",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # Served by foredeck.system.apidocs from the vendor folder (FastAPI's use CDNs).
        docs_url=None,
        redoc_url=None,
    )
    runtime = Runtime(config)
    app.state.runtime = runtime
    install_error_handlers(app)
    # Every route's role gate (kit.roles) asks auth who is calling.
    install_resolver(request_principal)
    # Hot reads registered on the app itself come before every included router.
    for module in ROUTERS:
        if hasattr(module, "mount_top_level"):
            module.mount_top_level(app)
    for module in ROUTERS:
        app.include_router(module.router)
        if hasattr(module, "mount"):
            module.mount(app)
    app.add_middleware(GZipForGzipClients, minimum_size=1024)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=config.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=["X-Request-ID", "X-Process-Time", "Retry-After"],
        )
    limiter = RateLimiter(config) if config.rate_limit_enabled else None
    # Built here, not at start-up: the middleware counts every request into it.
    metrics = runtime[METRICS] = Metrics()
    app.add_middleware(RequestContextMiddleware, config=config, limiter=limiter, observer=metrics)
    return app
