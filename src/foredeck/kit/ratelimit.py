"""Global and per-endpoint rate limits per API key, user token or client address."""

from __future__ import annotations

import fnmatch
import hashlib
import math
import re
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import Headers
from starlette.types import Scope

from foredeck.config import Config

EXEMPT_PREFIXES = ("/health", "/metrics", "/static", "/docs", "/redoc", "/openapi.json")


@dataclass
class Verdict:
    allowed: bool
    retry_after: int = 0
    headers: dict[str, str] = field(default_factory=dict)


class LocalWindows:
    """The sliding-window counter of `limits`, in one process, without its storage layer.

    limits' in-memory storages schedule expiry work on almost every hit (the asyncio one a
    new task, the threaded one a new timer thread every 10 ms, whose start blocks the caller
    until the thread runs): ~40-60 us a request on this hot path. One event loop owns this
    state, so plain dicts serve; the arithmetic is the same weighted-window estimate.
    """

    PRUNE_AT = 4096

    def __init__(self) -> None:
        # key -> [window number, count in the previous window, count in this one]
        self.windows: dict[tuple[str, str, int], list[int]] = {}
        self.prune_at = self.PRUNE_AT

    def hit(self, item: RateLimitItem, scope_key: str, identity: str) -> tuple[bool, int, float]:
        """Count one hit if it fits: (allowed, remaining, seconds until a slot frees)."""
        expiry = item.get_expiry()
        now = time.time()
        number = int(now // expiry)
        key = (scope_key, identity, expiry)
        entry = self.windows.get(key)
        if entry is None:
            entry = self.windows[key] = [number, 0, 0]
            if len(self.windows) > self.prune_at:
                self._prune(now)
        elif entry[0] != number:
            entry[1] = entry[2] if entry[0] == number - 1 else 0
            entry[0], entry[2] = number, 0
        left = expiry - (now - number * expiry)
        weighted = entry[1] * left / expiry + entry[2]
        allowed = math.floor(weighted) + 1 <= item.amount
        if allowed:
            entry[2] += 1
            weighted += 1
        remaining = max(0, item.amount - math.floor(weighted))
        resets = [left % (expiry / entry[1])] if entry[1] else []
        if entry[2]:
            resets.append(left)
        return allowed, remaining, min(resets, default=0.0)

    def _prune(self, now: float) -> None:
        """Forget windows too old to count, so idle clients do not accumulate."""
        self.windows = {
            key: entry for key, entry in self.windows.items() if entry[0] >= int(now // key[2]) - 1
        }
        self.prune_at = max(self.PRUNE_AT, 2 * len(self.windows))


class RateLimiter:
    def __init__(self, config: Config, storage: Storage | None = None) -> None:
        self.local: LocalWindows | None = None
        self.strategy: SlidingWindowCounterRateLimiter | None = None
        if storage is None and not config.redis_url:
            self.local = LocalWindows()
        else:
            if storage is None:
                url = str(config.redis_url).replace("redis://", "async+redis://", 1)
                # redis-py is already a dependency; the default async driver would be coredis.
                storage = RedisStorage(
                    url, implementation="redispy", key_prefix="foredeck:ratelimit"
                )
            # The sliding-window counter is O(1) per hit. The moving window keeps one entry
            # per hit and inserts at the head of a list (~0.1 ms a request at a few thousand
            # requests a second against a generous limit).
            self.strategy = SlidingWindowCounterRateLimiter(storage)
        self.default = parse(config.rate_limit_default)
        self.rules: list[tuple[str, str, re.Pattern[str], RateLimitItem]] = []
        for key, value in config.rate_limits.items():
            method, _, path = key.partition(" ")
            pattern = re.compile(fnmatch.translate(path))
            self.rules.append((method.upper(), path, pattern, parse(value)))

    def _identity(self, scope: Scope, headers: Headers) -> str:
        auth = headers.get("authorization")
        if auth:
            return "k:" + hashlib.sha256(auth.encode()).hexdigest()[:24]
        client = scope.get("client")
        return "ip:" + (client[0] if client else "unknown")

    async def check(self, scope: Scope, headers: Headers) -> Verdict | None:
        path: str = scope.get("path", "")
        if path.startswith(EXEMPT_PREFIXES) or path.startswith("/ui/sse"):
            return None
        identity = self._identity(scope, headers)
        method = scope.get("method", "GET")
        limits: list[tuple[str, RateLimitItem]] = [("global", self.default)]
        for rule_method, glob, pattern, item in self.rules:
            if rule_method in (method, "*") and pattern.match(path):
                limits.append((f"{rule_method}:{glob}", item))
        tightest: Verdict | None = None
        for scope_key, item in limits:
            if self.local is not None:
                allowed, remaining, reset_after = self.local.hit(item, scope_key, identity)
            else:
                assert self.strategy is not None
                allowed = await self.strategy.hit(item, scope_key, identity)
                stats = await self.strategy.get_window_stats(item, scope_key, identity)
                remaining, reset_after = stats.remaining, stats.reset_time - time.time()
            reset_in = max(0, math.ceil(reset_after))
            verdict = Verdict(
                allowed=allowed,
                retry_after=max(1, reset_in),
                headers={
                    "X-RateLimit-Limit": str(item.amount),
                    "X-RateLimit-Remaining": str(max(0, remaining)),
                    "X-RateLimit-Reset": str(reset_in),
                },
            )
            if not allowed:
                return verdict
            if tightest is None or remaining < int(tightest.headers["X-RateLimit-Remaining"]):
                tightest = verdict
        return tightest
