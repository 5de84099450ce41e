"""Security headers: on every API answer (signed in, refused or failed), and the client's CSP.

API answers carry `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and
`Cache-Control: no-store` (they hold tokens and personal data); the static client's files keep
their revalidated caching. The page's CSP lets it connect only to its own origin, and Chromium
is asked directly whether CSP Level 3's 'self' covers the call's ws:// to that origin while a
socket to another origin is refused; its Permissions-Policy lets only this origin use the
camera, the microphone and screen sharing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from scheduling.clock import ManualClock
from tests.support.apiclient import ORGANIZER, SAM, Api
from tests.support.app import TEST_NOW
from tests.support.browser import chromium, new_person_page, running_duet
from tests.support.seed import WINTER_FAIR as EVENT
from web.static_routes import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY

API_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def assert_api_headers(resp: Any, what: str) -> None:
    for name, value in API_HEADERS.items():
        assert resp.headers.get(name) == value, f"{what}: {name}={resp.headers.get(name)!r}"


async def test_every_api_answer_carries_the_security_headers(api: Api) -> None:
    auth = {"Authorization": f"Bearer {api.token(ORGANIZER)}"}
    sam = {"Authorization": f"Bearer {api.token(SAM)}"}
    key = {"Idempotency-Key": "headers-1"}
    answers = [
        ("signed in", await api.client.get("/api/v1/me", headers=auth)),
        ("created", await api.client.post("/api/v1/events", json=EVENT, headers=auth | key)),
        ("replayed", await api.client.post("/api/v1/events", json=EVENT, headers=auth | key)),
        ("refused 401", await api.client.get("/api/v1/chats")),
        ("refused 403", await api.client.post("/api/v1/events", json=EVENT, headers=sam)),
        ("refused 422", await api.client.post("/api/v1/events", json={}, headers=auth)),
        ("not found", await api.client.get("/api/v1/nothing", headers=auth)),
        ("wrong method", await api.client.delete("/api/v1/events", headers=auth)),
        ("probe", await api.client.get("/healthz")),
        ("document", await api.client.get("/api/v1/openapi.json")),
        ("calendar refused", await api.client.get(f"/api/v1/chats/{'0' * 32}.ics", headers=sam)),
    ]
    assert answers[2][1].headers.get("Idempotent-Replayed") == "true"
    for what, resp in answers:
        assert_api_headers(resp, what)


async def test_static_files_keep_their_caching_and_the_page_its_policies(api: Api) -> None:
    page = await api.client.get("/")
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    directives = CONTENT_SECURITY_POLICY.split("; ")
    assert "connect-src 'self'" in directives
    assert not any(d.startswith("connect-src") and "ws:" in d for d in directives)
    policy = page.headers["Permissions-Policy"]
    assert policy == PERMISSIONS_POLICY
    for feature in ("camera=(self)", "microphone=(self)", "display-capture=(self)"):
        assert feature in policy.split(", ")
    for denied in ("geolocation=()", "payment=()", "usb=()"):
        assert denied in policy.split(", ")
    script = await api.client.get("/static/js/main.js")
    for resp in (page, script):
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["Cache-Control"] == "no-cache"  # revalidated, not "no-store"


# What the page's script sees: a socket to its own origin goes through the CSP (the server may
# still refuse it), one to another origin (localhost is not 127.0.0.1) is blocked by it.
PROBE_SOCKETS = """async ([own, other]) => {
  const violations = [];
  document.addEventListener('securitypolicyviolation', (e) =>
    violations.push({ uri: e.blockedURI, directive: e.effectiveDirective }));
  const attempt = (url) => new Promise((resolve) => {
    let ws;
    try { ws = new WebSocket(url, 'duet.v1.json'); } catch (err) { resolve('threw ' + err.name); return; }
    ws.onopen = () => { ws.close(); resolve('open'); };
    ws.onerror = () => resolve('error');
    setTimeout(() => resolve('pending'), 5000);
  });
  const results = { own: await attempt(own), other: await attempt(other) };
  await new Promise((r) => setTimeout(r, 0));
  return { results, violations };
}"""


@pytest.mark.browser
async def test_chromium_lets_the_page_open_sockets_to_its_own_origin_only(
    tmp_path: Path,
) -> None:
    async with running_duet(tmp_path, ManualClock(TEST_NOW)) as duet, chromium() as browser:
        context, page = await new_person_page(browser, duet)
        console: list[str] = []
        page.on("console", lambda msg: console.append(msg.text))
        await page.goto("/")
        own = duet.base_url.replace("http://", "ws://") + "/api/v1/ws"
        other = own.replace("127.0.0.1", "localhost")
        seen = await page.evaluate(PROBE_SOCKETS, [own, other])
        assert seen["results"]["own"] == "open", seen
        assert [v["directive"] for v in seen["violations"]] == ["connect-src"], seen
        assert seen["violations"][0]["uri"].startswith("ws://localhost:"), seen
        # Chromium read the whole Permissions-Policy: it names no feature it does not know.
        await asyncio.sleep(0)
        assert not [m for m in console if "Permissions-Policy" in m], console
        # This origin may use the (fake) camera and microphone.
        granted = await page.evaluate(
            """async () => {
              const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
              const kinds = stream.getTracks().map((t) => t.kind).sort();
              stream.getTracks().forEach((t) => t.stop());
              return kinds;
            }"""
        )
        assert granted == ["audio", "video"]
        await context.close()
