"""The Runtime: every long-lived object of one foredeck process, typed.

The app builds one in `create_app` and fills it in its lifespan; the CLI and the Celery worker
build theirs without an app. Routers reach it through `RuntimeDep`, job handlers through
`JobContext.runtime`, everything else by having it passed in.

The floor's objects (config, engines, cache, pub/sub) are attributes. An object a package above
kit owns (the index manager, the embedder, the executor, ...) sits in a typed slot, a `Part`
that its package declares: `runtime[INDEX_MANAGER]` is an `IndexManager` to mypy, and a reader
finds who provides it by following the name, not a string.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, cast

from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from foredeck.config import Config
from foredeck.db import make_sessionmaker
from foredeck.kit.cache import Cache, MemoryCache
from foredeck.kit.pubsub import LocalPubSub

if TYPE_CHECKING:
    from redis.asyncio import Redis

T = TypeVar("T")
# A health or readiness check: "ok", a failure to show, or None when it does not apply here.
Check = Callable[["Runtime"], Awaitable[Any]]


class Part(Generic[T]):
    """A typed slot on the Runtime for an object that a package above kit provides."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Part({self.name!r})"


class NotStarted(LookupError):
    """A part was asked for before (or after) the start-up that provides it."""


class Runtime:
    """One process's long-lived objects. Engine and sessionmaker exist once started."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    def __init__(
        self, config: Config, *, engine: AsyncEngine | None = None, worker_process: bool = False
    ) -> None:
        self.config = config
        if engine is not None:
            self.engine = engine
            self.sessionmaker = make_sessionmaker(engine)
        # `foredeck worker`: Celery runs the jobs, no console and no embedded pool.
        self.worker_process = worker_process
        self.started_at = time.monotonic()
        self.ready = False
        self.cache: Cache = MemoryCache()
        self.redis: Redis | None = None
        self.pubsub: LocalPubSub | None = None
        # SQLite only: the blocking engine that the job engine's short writes use (kit.writes).
        self.sync_write_engine: Engine | None = None
        self.health_checks: dict[str, Check] = {}
        self.ready_checks: dict[str, Check] = {}
        self.features: set[str] = {"auth", "memories", "rate_limiting", "cache"}
        self._parts: dict[Part[Any], Any] = {}

    def __getitem__(self, part: Part[T]) -> T:
        try:
            return cast(T, self._parts[part])
        except KeyError:
            raise NotStarted(f"{part.name} is not started in this process") from None

    def __setitem__(self, part: Part[T], value: T) -> None:
        self._parts[part] = value

    def __contains__(self, part: Part[Any]) -> bool:
        return part in self._parts

    def get(self, part: Part[T]) -> T | None:
        return cast("T | None", self._parts.get(part))

    def pop(self, part: Part[T]) -> T | None:
        return cast("T | None", self._parts.pop(part, None))

    def replaced(self, part: Part[T], value: T) -> Runtime:
        """A shallow copy with one part swapped (say, a second job runner with other settings
        in the same process); the copy shares everything else."""
        other = copy.copy(self)
        other._parts = {**self._parts, part: value}
        return other


def runtime_of(app: FastAPI) -> Runtime:
    return cast(Runtime, app.state.runtime)


def get_runtime(request: Request) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
