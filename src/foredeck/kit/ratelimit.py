"""Global and per-endpoint rate limits per API key, user token or client address."""

from __future__ import annotations

import fnmatch
import hashlib
import math
import re
import time
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
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


class RateLimiter:
    def __init__(self, config: Config, storage: Storage | None = None) -> None:
        if storage is None:
            if config.redis_url:
                url = config.redis_url.replace("redis://", "async+redis://", 1)
                # redis-py is already a dependency; the default async driver would be coredis.
                storage = RedisStorage(
                    url, implementation="redispy", key_prefix="foredeck:ratelimit"
                )
            else:
                storage = MemoryStorage()
        self.storage = storage
        # The sliding-window counter is O(1) per hit. The moving window keeps one entry per
        # hit and inserts at the head of a list, which grew to ~0.1 ms per request at a few
        # thousand requests a second against a generous limit.
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
            allowed = await self.strategy.hit(item, scope_key, identity)
            stats = await self.strategy.get_window_stats(item, scope_key, identity)
            reset_in = max(0, math.ceil(stats.reset_time - time.time()))
            verdict = Verdict(
                allowed=allowed,
                retry_after=max(1, reset_in),
                headers={
                    "X-RateLimit-Limit": str(item.amount),
                    "X-RateLimit-Remaining": str(max(0, stats.remaining)),
                    "X-RateLimit-Reset": str(reset_in),
                },
            )
            if not allowed:
                return verdict
            if tightest is None or stats.remaining < int(tightest.headers["X-RateLimit-Remaining"]):
                tightest = verdict
        return tightest
