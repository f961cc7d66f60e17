"""Health, info, docs, envelopes and middleware."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from foredeck.app import create_app
from foredeck.config import Config
from tests.conftest import assert_error


async def test_health_reports_services_embedded(client: httpx.AsyncClient) -> None:
    resp = await client.get("/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "healthy"
    assert body["services"]["database"] == "connected"
    assert body["services"]["redis"] == "not_configured"
    assert body["mode"] == "embedded"
    assert isinstance(body["uptime"], int)


async def test_info(client: httpx.AsyncClient) -> None:
    data = (await client.get("/api/v1/info")).json()["data"]
    assert data["api_version"] == "1.0.0"
    assert data["environment"] == "development"
    assert "memories" in data["features_enabled"]


async def test_docs_and_openapi_document_envelopes(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/redoc")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert "ErrorEnvelope" in schemas
    get_memory = spec["paths"]["/api/v1/memories/{memory_id}"]["get"]
    assert "404" in get_memory["responses"]
    assert get_memory["tags"] == ["memories"]
    assert get_memory["security"] == [{"HTTPBearer": []}]


async def test_request_id_echoed_or_made(client: httpx.AsyncClient) -> None:
    resp = await client.get("/health/live", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    assert float(resp.headers["x-process-time"]) >= 0
    made = await client.get("/health/live", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] != "bad id with spaces"
    assert len(made.headers["x-request-id"]) == 32


async def test_unknown_route_is_enveloped_404(client: httpx.AsyncClient) -> None:
    err = assert_error(await client.get("/api/v1/nope"), 404, "NOT_FOUND")
    assert err["request_id"]


async def test_malformed_json_is_422(client: httpx.AsyncClient, admin: dict) -> None:
    resp = await client.post(
        "/api/v1/memories",
        content=b"{not json",
        headers={**admin, "content-type": "application/json"},
    )
    err = assert_error(resp, 422, "VALIDATION_ERROR")
    assert err["details"]


async def test_body_over_limit_is_413(client: httpx.AsyncClient, admin: dict) -> None:
    big = "x" * (3 * 1024 * 1024)
    resp = await client.post("/api/v1/memories", json={"content": big}, headers=admin)
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE")


async def test_gzip_on_large_json(client: httpx.AsyncClient) -> None:
    resp = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert resp.headers.get("content-encoding") == "gzip"


async def test_unexpected_error_leaks_nothing(app: FastAPI, client: httpx.AsyncClient) -> None:
    @app.get("/api/v1/_boom_for_test", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("secret internal detail /etc/passwd")

    try:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            resp = await c.get("/api/v1/_boom_for_test")
        err = assert_error(resp, 500, "INTERNAL_ERROR")
        assert "secret" not in resp.text and "passwd" not in resp.text
        assert err["request_id"] == resp.headers["x-request-id"]
    finally:
        app.router.routes[:] = [
            r for r in app.router.routes if getattr(r, "path", "") != "/api/v1/_boom_for_test"
        ]


async def test_rate_limit_429_with_headers(config: Config) -> None:
    small = config.model_copy(
        update={
            "rate_limit_default": "1000/minute",
            "rate_limits": {"GET /api/v1/info": "3/minute"},
        }
    )
    app = create_app(small)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            statuses = [(await c.get("/api/v1/info")).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            resp = await c.get("/api/v1/info")
            err = assert_error(resp, 429, "RATE_LIMITED")
            assert int(resp.headers["retry-after"]) >= 1
            assert resp.headers["x-ratelimit-limit"] == "3"
            assert resp.headers["x-ratelimit-remaining"] == "0"
            assert "retry" in err["message"]
            # Another endpoint still has room under the global limit.
            assert (await c.get("/health/live")).status_code == 200
            scraped = (await c.get("/metrics")).text
    counted = {
        s.name: s.value
        for f in text_string_to_metric_families(scraped)
        if f.name == "foredeck_rate_limited_requests"
        for s in f.samples
    }
    assert counted["foredeck_rate_limited_requests_total"] == 2


def test_local_window_weighs_the_previous_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process counter: a full window still counts, weighted by how much of it is
    left; windows two back are forgotten; idle clients are pruned."""
    from limits import parse

    from foredeck.kit import ratelimit

    now = [6000.0]  # the start of a one-minute window
    monkeypatch.setattr(ratelimit.time, "time", lambda: now[0])
    windows = ratelimit.LocalWindows()
    item = parse("4/minute")
    hits = [windows.hit(item, "global", "a") for _ in range(5)]
    assert [h[0] for h in hits] == [True, True, True, True, False]
    assert [h[1] for h in hits] == [3, 2, 1, 0, 0]
    assert 0 < hits[4][2] <= 60
    # Another client has its own window.
    assert windows.hit(item, "global", "b")[:2] == (True, 3)
    # 45 s into the next window a quarter of the previous one's 4 hits still counts.
    now[0] = 6105.0
    assert [windows.hit(item, "global", "a")[:2] for _ in range(4)] == [
        (True, 2),
        (True, 1),
        (True, 0),
        (False, 0),
    ]
    # Two windows later nothing is left of either.
    now[0] = 6240.0
    assert windows.hit(item, "global", "a")[:2] == (True, 3)
    windows.prune_at = 1
    windows.hit(item, "global", "c")
    assert set(windows.windows) == {("global", "a", 60), ("global", "c", 60)}


async def test_cors_preflight(config: Config) -> None:
    app = create_app(config.model_copy(update={"cors_origins": ["http://ui.example"]}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        resp = await c.options(
            "/api/v1/info",
            headers={"Origin": "http://ui.example", "Access-Control-Request-Method": "GET"},
        )
    assert resp.headers["access-control-allow-origin"] == "http://ui.example"


def test_placeholder_secret_refused_outside_development() -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Config(environment="production", secret_key="changeme")
    with pytest.raises(ValidationError):
        Config(environment="staging")
    assert Config(environment="production", secret_key="k" * 40).secret_key


async def test_rate_limits_shared_through_redis(redis_url: str) -> None:
    """Scale-out: two replicas count against the same Redis window."""
    from starlette.datastructures import Headers

    from foredeck.kit.ratelimit import RateLimiter

    key = f"Bearer {uuid.uuid4().hex}"
    config = Config(redis_url=redis_url, rate_limit_default="3/minute", rate_limits={})
    replicas = [RateLimiter(config), RateLimiter(config)]
    scope = {"path": "/api/v1/info", "method": "GET", "client": ("127.0.0.1", 1)}
    headers = Headers({"authorization": key})
    verdicts = [await replicas[i % 2].check(scope, headers) for i in range(4)]
    assert [v.allowed for v in verdicts if v is not None] == [True, True, True, False]
    assert verdicts[3] is not None and verdicts[3].headers["X-RateLimit-Remaining"] == "0"


def test_path_only_route_refuses_what_it_cannot_convert() -> None:
    from fastapi import FastAPI, Request

    from foredeck.kit.routes import PathOnlyRoute

    async def with_query(item_id: int, request: Request, q: str = "") -> None:
        return None

    async def with_text_path(name: str, request: Request) -> None:
        return None

    app = FastAPI()
    for path, endpoint in (("/a/{item_id}", with_query), ("/b/{name}", with_text_path)):
        with pytest.raises(TypeError, match="only int path parameters"):
            app.router.add_api_route(path, endpoint, route_class_override=PathOnlyRoute)
