"""The handler registry: every long-running step of foredeck is a `@job_handler`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from foredeck.jobs.context import JobContext

Handler = Callable[["JobContext"], Awaitable[dict[str, Any] | None]]
LockFn = Callable[[BaseModel | None], tuple[str, ...]]


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    fn: Handler
    params: type[BaseModel] | None = None
    queue: str = "default"
    locks: tuple[str, ...] | LockFn = ()
    max_attempts: int = 1
    priority: int = 0
    description: str = ""
    # Seconds one attempt may run before it fails (None: no limit); settings may override.
    time_limit: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def lock_keys(self, params: BaseModel | None) -> list[str]:
        """The lock names one job of this kind needs (a callable may derive them from params)."""
        keys = self.locks(params) if callable(self.locks) else self.locks
        return sorted(set(keys))


HANDLERS: dict[str, HandlerSpec] = {}


def job_handler(
    kind: str,
    *,
    params: type[BaseModel] | None = None,
    queue: str = "default",
    locks: tuple[str, ...] | LockFn = (),
    max_attempts: int = 1,
    priority: int = 0,
    description: str | None = None,
    time_limit: float | None = None,
) -> Callable[[Handler], Handler]:
    """Register an async handler for a job kind."""

    def register(fn: Handler) -> Handler:
        doc = (fn.__doc__ or "").strip().splitlines()
        HANDLERS[kind] = HandlerSpec(
            kind=kind,
            fn=fn,
            params=params,
            queue=queue,
            locks=locks,
            max_attempts=max(1, max_attempts),
            priority=priority,
            description=description if description is not None else (doc[0] if doc else ""),
            time_limit=time_limit,
        )
        return fn

    return register


def get_spec(kind: str) -> HandlerSpec | None:
    return HANDLERS.get(kind)
