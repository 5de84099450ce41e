"""The browser client: `/` serves index.html, `/static/...` its CSS and ES modules. No build step.

Like every answer (web/app.py), these carry `X-Content-Type-Options: nosniff` and
`Referrer-Policy: no-referrer`. HTML also carries a strict Content-Security-Policy: scripts only
from this origin and never inline, so a chat message that slipped through as markup still could
not run, and connections (fetch and the call's WebSocket) only to this origin: CSP Level 3's
'self' matches ws: and wss: on the page's own host and port, which Chromium implements
(tests/test_security_headers.py). Its Permissions-Policy lets only this origin use the camera,
microphone and screen sharing, and turns off sensors and devices Duet never needs.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.keys import CONFIG
from web.problems import Problem

PACKAGE_STATIC = Path(__file__).parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "object-src 'none'",
    )
)
PERMISSIONS_POLICY = ", ".join(
    (
        "camera=(self)",
        "microphone=(self)",
        "display-capture=(self)",
        "speaker-selection=(self)",  # the call picks the loudspeaker (setSinkId)
        "fullscreen=(self)",
        "autoplay=(self)",
        "geolocation=()",
        "payment=()",
        "usb=()",
        "serial=()",
        "hid=()",
        "midi=()",
        "accelerometer=()",
        "gyroscope=()",
        "magnetometer=()",
        "browsing-topics=()",
    )
)
HTML_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cache-Control": "no-cache",
}
# Static files may be cached (revalidated): the app's default for API answers is no-store.
ASSET_HEADERS = {"Cache-Control": "no-cache"}
# Explicit types: the platform's mimetypes table differs between hosts, and modules need a JS type.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}


def static_root(app: web.Application) -> Path:
    configured = app[CONFIG].static_dir
    return Path(configured) if configured else PACKAGE_STATIC


def _file_response(path: Path, extra: dict[str, str]) -> web.FileResponse:
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise Problem(404, "http_404", "There is nothing at this address.")
    return web.FileResponse(path, headers=extra | {"Content-Type": content_type})


async def index(request: web.Request) -> web.FileResponse:
    """The single page; the hash router inside it picks sign-in, dashboards or a call."""
    return _file_response(static_root(request.app) / "index.html", HTML_HEADERS)


async def static_file(request: web.Request) -> web.FileResponse:
    root = static_root(request.app).resolve()
    wanted = (root / request.match_info["path"]).resolve()
    if not wanted.is_relative_to(root) or not wanted.is_file():
        raise Problem(404, "http_404", "There is nothing at this address.")
    headers = HTML_HEADERS if wanted.suffix == ".html" else ASSET_HEADERS
    return _file_response(wanted, headers)


def add_static_routes(app: web.Application) -> None:
    """Mount the browser client; call after the API routes in `create_app`."""
    app.router.add_get("/", index)
    app.router.add_get("/index.html", index)
    app.router.add_get("/static/{path:.+}", static_file)
