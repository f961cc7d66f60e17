"""create_app(config) and the lifespan: every long-lived object is built here."""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from foredeck import __version__, migrate
from foredeck.config import Config
from foredeck.db import make_engine, make_sessionmaker
from foredeck.kit.cache import MemoryCache, RedisCache
from foredeck.kit.envelope import ERROR_RESPONSES, install_error_handlers
from foredeck.kit.middleware import GZipForGzipClients, RequestContextMiddleware
from foredeck.kit.ratelimit import RateLimiter
from foredeck.kit.writes import dispose_sync_engine
from foredeck.logging import configure_logging, get_logger
from foredeck.telemetry.metrics import Metrics

log = get_logger(__name__)

# Domains with routes, in the order their routes are matched.
# Records first: FastAPI matches routes in order and record reads are the hottest path.
ROUTER_MODULES = [
    "foredeck.records.router",
    # Search is a hot path too: matched before the other domains' routes.
    "foredeck.index.router",
    "foredeck.system.router",
    "foredeck.auth.router",
    "foredeck.jobs.router",
    "foredeck.workers.router",
    "foredeck.telemetry.router",
    "foredeck.embedding.router",
    "foredeck.operations.router",
    "foredeck.settings.router",
    "foredeck.generator.router",
    "foredeck.registry.router",
    "foredeck.schedules.router",
    "foredeck.mcp.router",
    "foredeck.console.router",
]

# Domains with start-up work, started in this order and stopped in reverse.
LIFECYCLE_MODULES = [
    "foredeck.settings.lifecycle",
    "foredeck.embedding.lifecycle",
    "foredeck.index.lifecycle",
    "foredeck.jobs.lifecycle",
    "foredeck.workers.lifecycle",
    "foredeck.telemetry.lifecycle",
    "foredeck.operations.lifecycle",
    "foredeck.generator.lifecycle",
    "foredeck.registry.lifecycle",
    "foredeck.schedules.lifecycle",
    "foredeck.mcp.lifecycle",
    "foredeck.console.lifecycle",
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
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    config: Config = app.state.config
    if config.auto_migrate:
        await asyncio.to_thread(migrate.upgrade, config)
    engine = make_engine(config)
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.redis = None
    if config.redis_url:
        import redis.asyncio as redis_asyncio

        app.state.redis = redis_asyncio.from_url(config.redis_url)
        app.state.cache = RedisCache(app.state.redis)
    from foredeck.auth import service as auth_service

    login = await auth_service.first_admin(app.state.sessionmaker)
    if login is not None:
        _announce_login(login, config)
    from foredeck.records.reads import make_reader

    app.state.record_reader = make_reader(config)
    modules = [importlib.import_module(name) for name in LIFECYCLE_MODULES]
    started = []
    try:
        for module in modules:
            await module.startup(app)
            started.append(module)
        app.state.ready = True
        log.info("foredeck_started", version=__version__, embedded=config.embedded)
        yield
    finally:
        app.state.ready = False
        for module in reversed(started):
            try:
                await module.shutdown(app)
            except Exception:
                log.exception("shutdown_failed", module=module.__name__)
        if app.state.redis is not None:
            await app.state.redis.aclose()
        if app.state.record_reader is not None:
            app.state.record_reader.close()
        dispose_sync_engine(app.state)
        await engine.dispose()
        log.info("foredeck_stopped")


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
    app.state.config = config
    app.state.started_at = time.monotonic()
    app.state.ready = False
    app.state.cache = MemoryCache()
    app.state.health_checks = {}
    # name -> async check(app) answering "ok", a failure, or None when it does not apply.
    app.state.ready_checks = {}
    app.state.features = {"auth", "memories", "rate_limiting", "cache"}
    install_error_handlers(app)
    modules: list[Any] = [importlib.import_module(name) for name in ROUTER_MODULES]
    # Hot reads registered on the app itself come before every included router.
    for module in modules:
        if hasattr(module, "mount_top_level"):
            module.mount_top_level(app)
    for module in modules:
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
    app.state.metrics = Metrics()
    app.add_middleware(
        RequestContextMiddleware, config=config, limiter=limiter, observer=app.state.metrics
    )
    return app
