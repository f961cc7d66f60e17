"""/docs and /redoc load only this server's files (the npm-pinned vendor folder): no CDN,
no web fonts, and a Content-Security-Policy that names no other origin."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.refs.append(value)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "apidocs-swagger.js"}),
        ("/redoc", {"redoc.standalone.js", "apidocs-redoc.css"}),
    ],
)
async def test_docs_pages_reference_only_local_assets(
    client: httpx.AsyncClient, path: str, expected: set[str]
) -> None:
    resp = await client.get(path)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert not re.search(r"(https?:)?//[a-z0-9]", resp.text, re.I), resp.text
    assert "fonts.googleapis" not in resp.text and "cdn" not in resp.text.lower()
    parser = _Refs()
    parser.feed(resp.text)
    assets = [r for r in parser.refs if not r.startswith("data:")]
    assert expected <= {a.rsplit("/", 1)[-1] for a in assets}, assets
    for ref in assets:
        assert ref.startswith("/"), ref
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 0
    # The policy allows this server only: the libraries cannot fetch from elsewhere either.
    csp = resp.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "img-src 'self' data: blob:" in csp
    assert "http" not in csp and "*" not in csp


async def test_vendor_files_are_the_locked_versions(client: httpx.AsyncClient) -> None:
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    swagger = lock["node_modules/swagger-ui-dist"]["version"]
    redoc = lock["node_modules/redoc"]["version"]
    bundle = (await client.get("/ui/static/vendor/swagger-ui-bundle.js")).text
    assert swagger in bundle, swagger
    standalone = (await client.get("/ui/static/vendor/redoc.standalone.js")).text
    assert redoc in standalone, redoc


async def test_openapi_document_still_served(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["info"]["title"] == "foredeck"
    assert "/docs" not in doc["paths"] and "/redoc" not in doc["paths"]
