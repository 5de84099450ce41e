"""A method an address does not support answers 405 with `Allow`, before anything else.

aiohttp finds the 405 and its `Allow` header; the middlewares turn it into problem+json without
losing the header, and neither the sign-in nor the Idempotency-Key is checked first: a PUT to a
POST-only address is a wrong method whatever its key (web/idempotency.py leaves such requests
to routing).
"""

from __future__ import annotations

from tests.support.apiclient import ADA, ORGANIZER, SAM, Api
from tests.support.seed import setup_event
from web.openapi import openapi_document


async def wrong_method(api: Api, method: str, path: str, **headers: str) -> dict[str, str]:
    resp = await api.client.request(method, path, headers=headers)
    body = await resp.json(content_type=None)
    assert resp.status == 405, (method, path, body)
    assert resp.content_type == "application/problem+json"
    assert body["code"] == "http_405" and body["status"] == 405
    assert method in body["detail"] and "this address answers" in body["detail"]
    return dict(resp.headers)


async def test_405_keeps_allow_through_the_middlewares(api: Api) -> None:
    event_id = await setup_event(api)
    auth = {"Authorization": f"Bearer {api.token(ORGANIZER)}"}
    headers = await wrong_method(api, "DELETE", "/api/v1/events", **auth)
    assert headers["Allow"] == "GET,HEAD,POST"
    headers = await wrong_method(api, "TRACE", f"/api/v1/events/{event_id}")
    assert headers["Allow"] == "GET,HEAD,PUT"
    headers = await wrong_method(api, "PATCH", f"/api/v1/chats/{'a' * 32}/approve")
    assert headers["Allow"] == "POST"
    # Allow lists what the document describes for the path (HEAD comes with every GET).
    paths = openapi_document()["paths"]
    assert {m.upper() for m in paths["/api/v1/events/{event_id}"]} == {"GET", "PUT"}


async def test_a_wrong_method_is_405_whatever_its_idempotency_key(api: Api) -> None:
    """The key's own checks (length, reuse) are for requests that reach a handler."""
    event_id = await setup_event(api)
    too_long = "k" * 201
    headers = await wrong_method(
        api,
        "PUT",
        f"/api/v1/events/{event_id}/availability/confirm",
        Authorization=f"Bearer {api.token(ADA)}",
        **{"Idempotency-Key": too_long},
    )
    assert headers["Allow"] == "POST"
    # The same key on the right method is refused for its length, naming the header.
    problem = await api.call(
        ADA,
        "POST",
        f"/api/v1/events/{event_id}/availability/confirm",
        expect=422,
        headers={"Idempotency-Key": too_long},
    )
    assert problem["field"] == "Idempotency-Key"
    await wrong_method(
        api,
        "DELETE",
        f"/api/v1/events/{event_id}/chats",
        Authorization=f"Bearer {api.token(SAM)}",
        **{"Idempotency-Key": ""},
    )
