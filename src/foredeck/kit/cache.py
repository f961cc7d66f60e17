"""A small cache: in-memory TTL when embedded, Redis when configured; pattern invalidation."""

from __future__ import annotations

import fnmatch
import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, Protocol, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class Cache(Protocol):
    async def get(self, key: str) -> Any | None: ...
    async def set(self, key: str, value: Any, ttl: float) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def delete_pattern(self, pattern: str) -> int: ...
    async def ping(self) -> bool: ...


class MemoryCache:
    """Per-process TTL cache of JSON-able values.

    Values are kept as objects, not re-encoded, because this sits on the hot auth path;
    callers treat what they get back as read-only.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._max = max_entries

    async def get(self, key: str) -> Any | None:
        item = self._data.get(key)
        if item is None:
            return None
        expires, raw = item
        if expires < time.monotonic():
            self._data.pop(key, None)
            return None
        return raw

    async def set(self, key: str, value: Any, ttl: float) -> None:
        if len(self._data) >= self._max:
            now = time.monotonic()
            for k in [k for k, (exp, _) in self._data.items() if exp < now]:
                del self._data[k]
            if len(self._data) >= self._max:
                self._data.pop(next(iter(self._data)))
        self._data[key] = (time.monotonic() + ttl, value)

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def delete_pattern(self, pattern: str) -> int:
        keys = [k for k in self._data if fnmatch.fnmatchcase(k, pattern)]
        for k in keys:
            del self._data[k]
        return len(keys)

    async def ping(self) -> bool:
        return True


class RedisCache:
    def __init__(self, client: Any, namespace: str = "foredeck:cache:") -> None:
        self._redis = client
        self._ns = namespace

    async def get(self, key: str) -> Any | None:
        raw = await self._redis.get(self._ns + key)
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl: float) -> None:
        await self._redis.set(self._ns + key, json.dumps(value, default=str), px=int(ttl * 1000))

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._ns + key)

    async def delete_pattern(self, pattern: str) -> int:
        count = 0
        async for key in self._redis.scan_iter(match=self._ns + pattern, count=500):
            count += await self._redis.delete(key)
        return count

    async def ping(self) -> bool:
        return bool(await self._redis.ping())


def cached(
    cache_getter: Callable[..., Cache], key: Callable[..., str], ttl: float
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Cache an async function's JSON-able result under key(*args, **kwargs)."""

    def decorator(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            cache = cache_getter(*args, **kwargs)
            cache_key = key(*args, **kwargs)
            hit = await cache.get(cache_key)
            if hit is not None:
                return hit  # type: ignore[no-any-return]
            value = await fn(*args, **kwargs)
            await cache.set(cache_key, value, ttl)
            return value

        return wrapper

    return decorator
