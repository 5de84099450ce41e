"""The browser client is served with its security headers, and nothing outside web/static leaks."""

from __future__ import annotations

from tests.support.apiclient import Api
from web.static_routes import CONTENT_SECURITY_POLICY


async def test_index_carries_a_strict_content_security_policy(api: Api) -> None:
    resp = await api.client.get("/")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    csp = resp.headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    for directive in (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp.split("; ")
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    html = await resp.text()
    # No inline script or style anywhere: the CSP would block it.
    assert '<script type="module" src="/static/js/main.js"></script>' in html
    assert "<style" not in html and " style=" not in html and "<script>" not in html


async def test_modules_are_served_as_javascript_and_paths_stay_inside(api: Api) -> None:
    resp = await api.client.get("/static/js/main.js")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/javascript")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "innerHTML" not in await resp.text()
    css = await api.client.get("/static/css/app.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    for path in ("/static/../app.py", "/static/%2e%2e/app.py", "/static/js/nope.js"):
        missing = await api.client.get(path)
        assert missing.status == 404, path
        assert missing.content_type == "application/problem+json"
