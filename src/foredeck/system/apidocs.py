"""/docs (Swagger UI) and /redoc (ReDoc) from the npm-pinned vendor folder: no CDN, no fonts.

FastAPI's own pages load both from a CDN and ReDoc's fonts from Google, so they break offline
and behind locked-down networks. These pages load only foredeck's own files, and their
Content-Security-Policy keeps the libraries from reaching out either (ReDoc's menu footer
shows a logo from its CDN: the browser refuses it and ReDoc hides it)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

VENDOR = "/ui/static/vendor"
STATIC = "/ui/static"
# The libraries compile schema validators at run time (unsafe-eval), style by inline <style>
# (unsafe-inline) and ReDoc searches in a blob worker; every source is this server.
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'self'; base-uri 'self'; form-action 'self'"
)

_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="data:,">
{extra}
</head>
"""

SWAGGER_HTML = (
    _HEAD.format(
        title="foredeck API · Swagger UI",
        extra=f'<link rel="stylesheet" href="{VENDOR}/swagger-ui.css">',
    )
    + f"""<body>
<div id="swagger-ui"></div>
<script src="{VENDOR}/swagger-ui-bundle.js"></script>
<script src="{STATIC}/apidocs-swagger.js"></script>
</body>
</html>
"""
)

REDOC_HTML = (
    _HEAD.format(
        title="foredeck API · ReDoc",
        extra=f'<link rel="stylesheet" href="{STATIC}/apidocs-redoc.css">',
    )
    + f"""<body>
<redoc spec-url="/openapi.json"></redoc>
<script src="{VENDOR}/redoc.standalone.js"></script>
</body>
</html>
"""
)


def _page(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={"Content-Security-Policy": CSP})


def mount(app: FastAPI) -> None:
    """Serve the two pages (create_app turns FastAPI's CDN-based ones off)."""

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(SWAGGER_HTML)

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _page(REDOC_HTML)
