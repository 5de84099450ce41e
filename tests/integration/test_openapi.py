"""The OpenAPI document is the contract: valid 3.1, in step with the routes, true to the answers.

Its schemas are generated from the structs the handlers decode and answer with; the operations
are listed by hand in web/openapi.py. These tests fail the moment a route is added without its
description, a described path stops answering, a handler reads a body the document does not
describe, or a response (error answers included) no longer matches the schema a client was
promised. tests/integration/test_contract_fuzzing.py sends the document's requests at a real server.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from aiohttp import web
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from tests.support.apiclient import ADA, MEI, ORGANIZER, PRIYA, SAM, Api, Person
from tests.support.around import pdf_bytes
from web import (
    api_after_chat,
    api_availability,
    api_chats,
    api_dev,
    api_events,
    api_live,
    api_notifications,
    api_precall,
    api_settings,
    api_webhooks,
    static_routes,
)
from web.api_chats import _ACTIONS as CHAT_ACTIONS
from web.app import create_app
from web.config import Config
from web.json_io import Body
from web.openapi import openapi_document

pytestmark = pytest.mark.both_backends

METHODS = ("get", "put", "post", "delete", "patch")
# Described but not driven here: the WebSocket upgrade (tests/integration/test_ws_bad_input.py and the room tests) and starting a pre-call
# check, which needs a real WebRTC offer (tests/media/test_precall.py), and the event streams,
# which never end (tests/integration/test_live_board.py).
NOT_DRIVEN = {
    ("get", "/api/v1/ws"),
    ("post", "/api/v1/precall"),
    ("get", "/api/v1/events/{event_id}/live"),
    ("get", "/api/v1/me/events"),
}


def routed_operations(app: web.Application) -> set[tuple[str, str]]:
    """(method, path) of every route as the spec would write it; the action route is expanded."""
    found: set[tuple[str, str]] = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        if getattr(route.handler, "__module__", "") == static_routes.__name__:
            continue  # the browser client's files, not the API
        path = route.resource.canonical
        if path == "/api/v1/chats/{chat_id}/{action}":
            found |= {
                (route.method.lower(), f"/api/v1/chats/{{chat_id}}/{a}") for a in CHAT_ACTIONS
            }
        else:
            found.add((route.method.lower(), path))
    return found


def described_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m, path) for path, ops in doc["paths"].items() for m in ops if m in METHODS}


def test_document_is_valid_openapi_3_1() -> None:
    doc = openapi_document()
    assert doc["openapi"].startswith("3.1")
    validate_spec(doc)  # raises with the JSON path of the first error
    # Every $ref points at a schema that exists.
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', orjson.dumps(doc).decode()))
    assert refs and refs <= set(doc["components"]["schemas"])


def test_every_route_is_described_and_every_description_is_routed() -> None:
    app = create_app(Config(jwt_secret="x" * 40, database_url="sqlite+aiosqlite:///unused"))
    routed = routed_operations(app)
    described = described_operations(openapi_document())
    assert routed - described == set(), "routes missing from web/openapi.py"
    assert described - routed == set(), "described paths nothing answers"
    assert ("post", "/api/v1/chats/{chat_id}/book") in routed  # the expansion really happened


def test_every_body_a_handler_reads_is_the_one_its_operation_describes() -> None:
    """One source: the struct a handler decodes is the requestBody its operation names."""
    read: set[str] = set()
    for module in (
        api_events,
        api_availability,
        api_chats,
        api_dev,
        api_precall,
        api_webhooks,
        api_after_chat,
        api_settings,
        api_notifications,
        api_live,
    ):
        read |= {b._type.__name__ for b in vars(module).values() if isinstance(b, Body)}
    read |= {body._type.__name__ for _action, body in CHAT_ACTIONS.values()}
    doc = openapi_document()
    described = {
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for ops in doc["paths"].values()
        for op in ops.values()
        # An upload's body is its bytes (the résumé's PDF), not a struct.
        if "application/json" in op.get("requestBody", {}).get("content", {})
    }
    assert read == described
    for path, action in (("decline", "Decline"), ("book", "SlotChoice"), ("cancel", "Cancel")):
        op = doc["paths"][f"/api/v1/chats/{{chat_id}}/{path}"]["post"]
        assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(action)
        assert CHAT_ACTIONS[path][1]._type.__name__ == action


# --- Responses of a real flow against their operation's schemas ----------------------------------


def schema_validator(doc: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """`#/components/...` refs resolve against the root, so the root carries the components."""
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
    root["components"] = doc["components"]
    return Draft202012Validator(root, format_checker=Draft202012Validator.FORMAT_CHECKER)


class Contract:
    """Sends requests through the test client and validates each answer against the document."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.doc = openapi_document()
        self.checked: set[tuple[str, str]] = set()
        self.templates = sorted(
            ((self._pattern(p), p) for p in self.doc["paths"]),
            key=lambda item: item[1].count("{"),  # literal paths win over templated ones
        )

    @staticmethod
    def _pattern(path: str) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{[a-z_]+\\\}", "[^/.]+", re.escape(path)) + "$")

    def template(self, path: str) -> str | None:
        return next((t for pattern, t in self.templates if pattern.match(path)), None)

    def validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        return schema_validator(self.doc, schema)

    def problem_validator(self) -> Draft202012Validator:
        return self.validator({"$ref": "#/components/schemas/Problem"})

    async def __call__(
        self,
        person: Person | None,
        method: str,
        path: str,
        json: Any = None,
        expect: int = 200,
        data: bytes | None = None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.api.token(person)}"} if person else {}
        resp = await self.api.client.request(method, path, json=json, data=data, headers=headers)
        raw = await resp.read()
        assert resp.status == expect, f"{method} {path}: {resp.status} {raw[:300]!r}"
        body = orjson.loads(raw) if resp.content_type.endswith("json") else raw
        template = self.template(path.split("?")[0])
        if template is None:  # not an API path: errors still follow the Problem shape
            assert resp.content_type == "application/problem+json"
            self.problem_validator().validate(body)
            return body
        op = self.doc["paths"][template][method.lower()]
        status = str(resp.status)
        answer = op["responses"].get(status) or op["responses"].get(f"{status[0]}XX")
        assert answer is not None, f"{method} {template} answered {status}, not described"
        content = answer.get("content", {})
        if resp.status == 204:
            assert not content and raw == b""
            self.checked.add((method.lower(), template))
            return raw
        assert resp.content_type in content, f"{method} {template}: {resp.content_type}"
        schema = content[resp.content_type]["schema"]
        if isinstance(body, bytes):
            assert schema.get("type") == "string"
        else:
            errors = sorted(self.validator(schema).iter_errors(body), key=str)
            assert not errors, f"{method} {template} {status}: {errors[0]}"
        self.checked.add((method.lower(), template))
        return body


async def test_responses_of_a_real_flow_match_their_schemas(api: Api) -> None:
    call = Contract(api)
    for path in ("/healthz", "/readyz", "/api/v1/openapi.json", "/api/v1/dev/users"):
        await call(None, "GET", path)
    login = await call(None, "POST", "/api/v1/dev/login", {"user_id": "nobody"}, expect=404)
    assert login["code"] == "not_found"
    assert (await call(None, "GET", "/api/v1/dev/mail"))["mails"] == []
    await call(None, "GET", "/api/v1/dev/mail/no-such-mail", expect=404)
    await call(SAM, "GET", "/api/v1/me/notifications")
    off = {"kinds": [{"kind": "reminder", "enabled": False}]}
    settings = await call(SAM, "PUT", "/api/v1/me/notifications", off)
    assert {k["kind"] for k in settings["kinds"] if not k["enabled"]} == {"reminder"}

    event_body = {
        "name": "Contract Fair",
        "timezone": "Europe/Berlin",
        "days": [{"date": "2026-12-01", "start": "09:00", "end": "12:00", "durations": [30]}],
        "quotas": [{"company_id": "acme", "slot_quota": 6}],
    }
    event = await call(ORGANIZER, "POST", "/api/v1/events", event_body, expect=201)
    ev = f"/api/v1/events/{event['id']}"
    await call(ORGANIZER, "PUT", ev, event_body | {"support_url": "https://help.example/"})
    await call(ORGANIZER, "PUT", f"{ev}/quotas/acme", {"slot_quota": 8})
    await call(ORGANIZER, "GET", "/api/v1/events")
    await call(ORGANIZER, "GET", ev)
    await call(ORGANIZER, "GET", f"{ev}/quota?company_id=acme")
    await call(None, "POST", "/api/v1/dev/login", {"user_id": "olivia"})
    # A public literal address: no DNS needed, and nothing leaves the test's namespace.
    hook = {"url": "https://93.184.215.14/hooks", "event_types": ["chat.requested"]}
    created = await call(ORGANIZER, "POST", f"{ev}/webhooks", hook, expect=201)
    hooks = f"{ev}/webhooks/{created['endpoint']['id']}"
    await call(ORGANIZER, "GET", f"{ev}/webhooks")
    await call(ORGANIZER, "GET", hooks)
    await call(ORGANIZER, "PUT", hooks, {"enabled": True, "event_types": ["chat.requested"]})
    await call(ORGANIZER, "POST", f"{hooks}/rotate-secret")
    refused = await call(
        ORGANIZER, "POST", f"{ev}/webhooks", hook | {"url": "http://127.0.0.1/"}, expect=422
    )
    assert refused["code"] == "url_refused"

    grid = await call(ADA, "GET", f"{ev}/grid?date=2026-12-01&duration_min=30")
    starts = [s["starts_at"] for s in grid["slots"]]
    draft = {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": starts[:4]}]}
    await call(ADA, "PUT", f"{ev}/availability", draft | {"profile": {"topics": ["robots"]}})
    await call(ADA, "POST", f"{ev}/availability/confirm")
    await call(ADA, "GET", f"{ev}/availability")
    await call(ADA, "GET", f"{ev}/quota")
    await call(SAM, "GET", f"{ev}/offers")
    await call(SAM, "GET", f"{ev}/offers?q=ada&language=en&limit=5&offset=0")
    free = await call(SAM, "GET", f"{ev}/employees/ada/slots")

    chat = await call(SAM, "POST", f"{ev}/chats", {"employee_id": "ada"}, expect=201)
    cid = chat["id"]
    await call(ADA, "GET", f"{ev}/participants")
    await call(ADA, "POST", f"/api/v1/chats/{cid}/approve")
    await call(SAM, "POST", f"/api/v1/chats/{cid}/book", {"slot_id": free["slots"][0]["id"]})
    await call(SAM, "POST", f"/api/v1/chats/{cid}/reschedule", {"slot_id": free["slots"][1]["id"]})
    await call(SAM, "GET", f"/api/v1/chats/{cid}")
    await call(SAM, "GET", "/api/v1/chats?tab=confirmed")
    await call(SAM, "GET", "/api/v1/me")
    await call(SAM, "GET", "/api/v1/me/schedule")
    await call(SAM, "GET", f"/api/v1/chats/{cid}.ics")
    too_early = await call(SAM, "POST", f"/api/v1/chats/{cid}/join", expect=409)
    assert too_early["code"] == "too_early"
    api.clock.set(datetime.fromisoformat(free["slots"][1]["starts_at"]).astimezone(UTC))
    grant = await call(SAM, "POST", f"/api/v1/chats/{cid}/join")
    assert grant["join_window"]["open"] is True
    await call(SAM, "GET", f"/api/v1/chats/{cid}/messages")
    await call(SAM, "POST", f"/api/v1/chats/{cid}/support", {"text": "No sound"}, expect=201)
    await call(ORGANIZER, "POST", f"/api/v1/chats/{cid}/support/answer", {"text": "On it."}, 201)
    await call(ADA, "POST", f"/api/v1/chats/{cid}/cancel", {"reason": "Sorry, I am ill."})
    await call(SAM, "GET", f"/api/v1/chats/{cid}/history")

    other = await call(PRIYA, "POST", f"{ev}/chats", {"employee_id": "ada"}, expect=201)
    await call(ADA, "POST", f"/api/v1/chats/{other['id']}/decline", {"message": "Ask Alan."})
    third = await call(MEI, "POST", f"{ev}/chats", {"employee_id": "ada"}, expect=201)
    await call(MEI, "POST", f"/api/v1/chats/{third['id']}/withdraw")
    sent = await call(ORGANIZER, "GET", f"{hooks}/deliveries?status=pending")
    assert {d["type"] for d in sent["deliveries"]} == {"chat.requested"}
    await call(ORGANIZER, "POST", f"{hooks}/deliveries/{sent['deliveries'][0]['id']}/retry")
    await call(ORGANIZER, "DELETE", hooks)
    await call(SAM, "GET", "/api/v1/precall")
    await call(SAM, "PUT", "/api/v1/me/time-zone", {"time_zone": "Pacific/Kiritimati"})
    await call(SAM, "GET", "/api/v1/me/time-zone")
    for method in ("GET", "DELETE"):
        gone = await call(SAM, method, "/api/v1/precall/no-such-check", expect=404)
        assert gone["code"] == "precall_not_found"

    await around_the_call(call, ev, cid)

    # Refusals are part of the contract too: each must match the Problem schema.
    await call(None, "GET", "/api/v1/chats", expect=401)
    await call(SAM, "POST", "/api/v1/events", event_body, expect=403)
    await call(ADA, "POST", f"/api/v1/chats/{cid}/approve", expect=409)
    await call(ORGANIZER, "POST", "/api/v1/events", event_body | {"days": []}, expect=422)
    await call(SAM, "GET", f"/api/v1/chats/{'0' * 32}", expect=404)
    await call(SAM, "GET", "/api/v1/nothing-here", expect=404)

    missed = described_operations(call.doc) - call.checked - NOT_DRIVEN
    assert missed == set(), f"operations the flow never validated: {sorted(missed)}"


async def around_the_call(call: Contract, ev: str, cid: str) -> None:
    """Issue 14's operations: résumés, notes, marks, feedback, follow-ups, exports."""
    await call(SAM, "PUT", "/api/v1/me/resume?filename=cv.pdf", data=pdf_bytes())
    await call(SAM, "GET", "/api/v1/me/resume")
    await call(SAM, "GET", "/api/v1/me/resume.pdf")
    await call(ADA, "GET", f"/api/v1/chats/{cid}/resume.pdf")
    await call(SAM, "PUT", "/api/v1/me/resume", data=b"<html></html>", expect=422)
    await call(SAM, "DELETE", "/api/v1/me/resume", expect=204)
    # The chat was cancelled: notes may still be written, marks, follow-ups and feedback not.
    await call(ADA, "PUT", f"{ev}/notes/sam", {"notes": "Met at the booth.", "rating": 3})
    await call(ADA, "GET", f"{ev}/notes")
    await call(ADA, "PUT", f"/api/v1/chats/{cid}/no-show", {"participant_no_show": True}, 409)
    await call(ADA, "POST", f"/api/v1/chats/{cid}/follow-up", {"message": "Again?"}, 409)
    await call(SAM, "PUT", f"/api/v1/chats/{cid}/feedback", {"score": 5}, 409)
    await call(SAM, "GET", f"/api/v1/chats/{cid}/feedback", expect=404)
    await call(ORGANIZER, "GET", f"{ev}/feedback")
    chats_csv = await call(ORGANIZER, "GET", f"{ev}/export/chats.csv")
    assert chats_csv.startswith(b"chat_id,state,") and chats_csv.count(b"\r\n") == 4
    company_csv = await call(ADA, "GET", f"{ev}/export/company.csv")
    assert b"Met at the booth." in company_csv


def test_problem_schema_rejects_what_is_not_a_problem() -> None:
    """The validator is not a rubber stamp: no `detail`, a text status or a bad instant all fail."""
    problem = schema_validator(openapi_document(), {"$ref": "#/components/schemas/Problem"})
    good = {"type": "t", "title": "Conflict", "status": 409, "detail": "Taken.", "code": "x"}
    assert problem.is_valid(good)
    assert not problem.is_valid({k: v for k, v in good.items() if k != "detail"})
    assert not problem.is_valid(good | {"status": "409"})
    slot = schema_validator(openapi_document(), {"$ref": "#/components/schemas/Slot"})
    row = {
        "id": 1,
        "date": "2026-12-01",
        "starts_at": "2026-12-01T08:00:00Z",
        "ends_at": "2026-12-01T08:30:00Z",
        "published": True,
        "booked": False,
    }
    assert slot.is_valid(row)
    assert not slot.is_valid(row | {"starts_at": "tomorrow at nine"})  # formats are checked
