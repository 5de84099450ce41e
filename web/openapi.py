"""The OpenAPI 3.1 document of Duet's REST API; `tests/integration/test_openapi.py` holds it to the routes.

Bodies and query strings are not written here: their schemas are generated from the structs the
handlers decode with (`web/request_bodies.py`) and answer with (`web/resources.py`), so the
document and the server cannot drift apart. This module lists the operations: path, who may
call, parameters, and the rules a schema cannot state, in words.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import msgspec

from web import request_bodies as rb
from web import resources as r

_S = "#/components/schemas/"
METHODS = ("get", "put", "post", "delete")
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "Retrying with the same key replays the first answer; a key names one "
    "request (same method, path and body) of the signed-in person.",
}
_CHAT_ID = {"type": "string", "pattern": "^[0-9a-f]{32}$"}
_CHECK_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
_STRING = {"type": "string"}
_PROBLEM = {"application/problem+json": {"schema": {"$ref": _S + "Problem"}}}


@dataclass(frozen=True)
class Op:
    """One operation: what it answers, what it reads, and who may call it."""

    summary: str
    answer: type | None  # the 2xx body's struct; None for the few answered otherwise
    status: int = 200
    body: type | None = None
    query: type | None = None
    path: dict[str, dict[str, Any]] = field(default_factory=dict)
    roles: tuple[str, ...] = ()  # empty: anyone signed in
    public: bool = False  # no token needed
    rules: str = ""  # what the server checks beyond the schema, in words
    responses: dict[str, Any] = field(default_factory=dict)  # more than 2xx and 4XX


def _event(**more: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {"event_id": _STRING} | more


def _chat() -> dict[str, dict[str, Any]]:
    return {"chat_id": _CHAT_ID}


_PARTIES = (
    "The chat's two people may do this (an organizer may read any chat); others get 404, "
    "so chat ids cannot be probed."
)


def _action(summary: str, body: type, rules: str = "") -> Op:
    return Op(
        summary,
        r.Chat,
        body=body,
        path=_chat(),
        roles=("employee", "participant"),
        rules=(rules + " " if rules else "")
        + "An action the chat's state or the caller's side does not allow answers 409 or 403; "
        "the chat's `actions` lists what the caller may do now.",
    )


OPERATIONS: dict[str, dict[str, Op]] = {
    "/healthz": {"get": Op("Liveness", r.Status, public=True)},
    "/readyz": {
        "get": Op(
            "Readiness (database reachable and migrated)",
            r.Status,
            public=True,
            responses={
                "503": {
                    "description": "The database does not answer (code not_ready)",
                    "content": _PROBLEM,
                }
            },
        )
    },
    "/api/v1/openapi.json": {"get": Op("This document", None, public=True)},
    "/api/v1/dev/users": {
        "get": Op("Seeded people (dev/demo sign-in only, else 404)", r.UserList, public=True)
    },
    "/api/v1/dev/login": {
        "post": Op(
            "Mint a token for a seeded person (dev/demo sign-in only, else 404)",
            r.DevToken,
            body=rb.DevLogin,
            public=True,
        )
    },
    "/api/v1/me": {"get": Op("The signed-in person and the server's clock", r.Me)},
    "/api/v1/me/events": {
        "get": Op(
            "My own events as Server-Sent Events: a chat of mine changed",
            None,
            rules="A `hello` event, then a `chat` event ({chat_id, state, with, at}) whenever "
            "one of the caller's chats changes, on any node; a comment line every 20 s "
            "(docs/live.md).",
            responses={
                "200": {
                    "description": "text/event-stream: `event: hello` then `event: chat`",
                    "content": {"text/event-stream": {"schema": _STRING}},
                }
            },
        )
    },
    "/api/v1/me/schedule": {
        "get": Op("My Schedule: confirmed chats in time order", r.ChatList, query=rb.ScheduleQuery)
    },
    "/api/v1/events": {
        "get": Op("List events", r.EventList),
        "post": Op(
            "Create an event",
            r.Event,
            status=201,
            body=rb.EventInput,
            roles=("organizer",),
            rules="No date is listed twice and every day ends after it starts (422).",
        ),
    },
    "/api/v1/events/{event_id}": {
        "get": Op("One event", r.Event, path=_event()),
        "put": Op(
            "Replace an event's settings",
            r.Event,
            body=rb.EventInput,
            path=_event(),
            roles=("organizer",),
            rules="No date is listed twice and every day ends after it starts (422). Days on "
            "which employees published slots stay (409); a quota never drops below what the "
            "company published (409).",
        ),
    },
    "/api/v1/events/{event_id}/quotas/{company_id}": {
        "put": Op(
            "Set a company's 1-1 slot quota",
            r.Event,
            body=rb.SlotQuota,
            path=_event(company_id={"type": "string", "minLength": 1}),
            roles=("organizer",),
            rules="A quota never drops below what the company already published (409).",
        )
    },
    "/api/v1/events/{event_id}/availability": {
        "get": Op(
            "My availability, profile and my company's slot figure",
            r.Availability,
            path=_event(),
            roles=("employee",),
        ),
        "put": Op(
            "Save a draft of my availability",
            r.Availability,
            body=rb.AvailabilityInput,
            path=_event(),
            roles=("employee",),
            rules="Checked against the event (422): each `date` is one of its days, "
            "`duration_min` a length that day offers, and each slot starts on that day's grid "
            "and in the future. Published slots of another length and booked slots cannot be "
            "removed (409).",
        ),
    },
    "/api/v1/events/{event_id}/availability/confirm": {
        "post": Op(
            "Confirm Availability: publish pending slots",
            r.Availability,
            path=_event(),
            roles=("employee",),
            rules="Publishing never exceeds the company's quota (409 quota_reached, with "
            "`remaining`); with nothing chosen yet the answer is 422.",
        )
    },
    "/api/v1/events/{event_id}/grid": {
        "get": Op(
            "The slots of one day at one chat length",
            r.Grid,
            query=rb.GridQuery,
            path=_event(),
            rules="Checked against the event (422): `date` is one of its days and "
            "`duration_min` a length that day offers.",
        )
    },
    "/api/v1/events/{event_id}/quota": {
        "get": Op(
            "N of M slots available for a company",
            r.CompanySlots,
            query=rb.QuotaQuery,
            path=_event(),
            roles=("employee", "organizer"),
            rules="An employee always gets their own company's figure (`company_id` is "
            "ignored); an organizer must name the company with `company_id` (422 otherwise).",
        )
    },
    "/api/v1/events/{event_id}/offers": {
        "get": Op("Employees offering 1-1 chats, with their profiles", r.OfferList, path=_event())
    },
    "/api/v1/events/{event_id}/employees/{employee_id}/slots": {
        "get": Op("An employee's free slots", r.SlotList, path=_event(employee_id=_STRING))
    },
    "/api/v1/events/{event_id}/participants": {
        "get": Op(
            "Participants an employee may invite",
            r.ParticipantList,
            path=_event(),
            roles=("employee", "organizer"),
        )
    },
    "/api/v1/events/{event_id}/chats": {
        "post": Op(
            "Request a chat with an employee, or invite a participant",
            r.Chat,
            status=201,
            body=rb.ChatRequest,
            path=_event(),
            roles=("participant", "employee"),
            rules="Depends on the caller's role (403 otherwise): a participant names "
            "`employee_id`, an employee names `participant_id` (where the event lets employees "
            "send requests). The employee must have confirmed their availability (409).",
        )
    },
    "/api/v1/chats": {"get": Op("My chats, optionally one tab", r.ChatList, query=rb.ChatsQuery)},
    "/api/v1/chats/{chat_id}": {
        "get": Op("One chat with its join window", r.Chat, path=_chat(), rules=_PARTIES)
    },
    "/api/v1/chats/{chat_id}/approve": {
        "post": _action("Approve a request (or accept an invitation)", rb.NoBody)
    },
    "/api/v1/chats/{chat_id}/decline": {
        "post": _action("Decline, with a message for the other person", rb.Decline)
    },
    "/api/v1/chats/{chat_id}/withdraw": {"post": _action("Withdraw my own request", rb.NoBody)},
    "/api/v1/chats/{chat_id}/book": {
        "post": _action(
            "Pick a slot (participant)",
            rb.SlotChoice,
            "The slot must be a free, published, future slot of the chat's employee (422).",
        )
    },
    "/api/v1/chats/{chat_id}/reschedule": {
        "post": _action(
            "Move a confirmed chat to another free slot",
            rb.SlotChoice,
            "The slot must be another free, published, future slot of the chat's employee (422).",
        )
    },
    "/api/v1/chats/{chat_id}/cancel": {"post": _action("Cancel, with a reason", rb.Cancel)},
    "/api/v1/chats/{chat_id}/join": {
        "post": Op(
            "A single-use ticket (~60 s) for the signaling WebSocket",
            r.JoinGrant,
            path=_chat(),
            rules="Only the chat's two people (403), only inside its join window (409 "
            "too_early, chat_ended, chat_cancelled or not_confirmed, with the window).",
        )
    },
    "/api/v1/chats/{chat_id}/messages": {
        "get": Op(
            "The side-panel chat log (readable after the chat too)",
            r.ChatLog,
            path=_chat(),
            rules=_PARTIES,
        )
    },
    "/api/v1/chats/{chat_id}/support": {
        "post": Op(
            "Ask the organizer for help from a call (shown on the live board)",
            r.SupportRequest,
            status=201,
            body=rb.SupportInput,
            path=_chat(),
            roles=("employee", "participant"),
            rules="Only the chat's two people (others get 404), only for a booked chat (409 "
            "not_live), one open request a minute per person (429 support_pending, with "
            "Retry-After). The request is stored before the answer.",
        )
    },
    "/api/v1/chats/{chat_id}/support/answer": {
        "post": Op(
            "Answer in the chat as Support: both people see it, the chat log keeps it",
            r.ChatMessage,
            status=201,
            body=rb.SupportAnswer,
            path=_chat(),
            roles=("organizer",),
            rules="Stored in the chat's log (sender_id `support`) before the answer, then sent "
            "to whoever of the two is in the room; marks the chat's Support requests answered.",
        )
    },
    "/api/v1/events/{event_id}/live": {
        "get": Op(
            "The live board: today's chats in real time, as Server-Sent Events",
            None,
            path=_event(),
            roles=("organizer",),
            rules="A `snapshot` event with every row, then a `row` event whenever one changes; "
            "a comment line every 20 s keeps proxies from closing it (docs/live.md).",
            responses={
                "200": {
                    "description": "text/event-stream: `event: snapshot` then `event: row`",
                    "content": {"text/event-stream": {"schema": _STRING}},
                }
            },
        )
    },
    "/api/v1/chats/{chat_id}/history": {
        "get": Op("Who moved the chat when", r.History, path=_chat(), rules=_PARTIES)
    },
    "/api/v1/chats/{chat_id}.ics": {
        "get": Op(
            "Calendar file (stable UID, SEQUENCE bumped on reschedule, METHOD:CANCEL after cancel)",
            None,
            path=_chat(),
            rules="A chat without a time yet has no calendar file (409).",
            responses={
                "200": {
                    "description": "iCalendar",
                    "content": {"text/calendar": {"schema": _STRING}},
                }
            },
        )
    },
    "/api/v1/precall": {
        "get": Op(
            "Before a pre-call check: ICE servers for the offer and the check's length",
            r.PrecallSetup,
        ),
        "post": Op(
            "Start a pre-call check: the server answers the offer, mirrors camera and mic back "
            "and grades them",
            r.PrecallAnswer,
            status=201,
            body=rb.PrecallOffer,
            rules="The SDP must be a WebRTC offer with a camera or a microphone the server can "
            "use (422 bad_offer).",
            responses={
                "503": {
                    "description": "Too many checks run, or the server is restarting "
                    "(retry_after_s)",
                    "content": _PROBLEM,
                }
            },
        ),
    },
    "/api/v1/precall/{check_id}": {
        "get": Op(
            "The pre-call verdict so far (or the final one, for ~2 minutes after it ended)",
            r.PrecallVerdict,
            path={"check_id": _CHECK_ID},
            rules="A check is its starter's: anyone else gets 404.",
        ),
        "delete": Op(
            "End a pre-call check and get its final verdict",
            r.PrecallVerdict,
            path={"check_id": _CHECK_ID},
            rules="A check is its starter's: anyone else gets 404.",
        ),
    },
}

# The chat log's `after_seq` is read by its handler (web/api_join.py) directly.
_EXTRA_QUERY = {
    ("get", "/api/v1/chats/{chat_id}/messages"): [
        {"name": "after_seq", "in": "query", "required": False, "schema": {"type": "integer"}}
    ]
}

WEBSOCKET = {
    "get": {
        "summary": "The signaling WebSocket (subprotocols duet.v1.json, duet.v1.msgpack); "
        "see docs/protocol.md",
        "description": "Not a REST operation: a WebSocket upgrade whose first message is `join` "
        "with a ticket from POST /api/v1/chats/{chat_id}/join.",
        "security": [],
        "responses": {
            "101": {
                "description": "Switching protocols; the first message must be join with a ticket"
            },
            "4XX": {
                "description": "Origin not allowed (403) or no supported subprotocol (400)",
                "content": _PROBLEM,
            },
        },
    }
}


def _components() -> dict[str, Any]:
    types: set[type] = {r.Problem}
    for ops in OPERATIONS.values():
        for op in ops.values():
            types |= {t for t in (op.answer, op.body, op.query) if t is not None}
    _, components = msgspec.json.schema_components(
        sorted(types, key=lambda t: t.__name__), ref_template=_S + "{name}"
    )
    for kind in types:
        component = components[kind.__name__]
        component.update(getattr(kind, "json_schema_extra", {}))
    for component in components.values():
        if "description" in component:
            component["description"] = inspect.cleandoc(component["description"])
    return components


def _query_parameters(query: type, components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = components[query.__name__]
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema["properties"].items()
    ]


def _operation(method: str, path: str, op: Op, components: dict[str, Any]) -> dict[str, Any]:
    who = (
        "No sign-in needed."
        if op.public
        else "Who: " + (", ".join(op.roles) if op.roles else "anyone signed in") + "."
    )
    out: dict[str, Any] = {
        "summary": op.summary,
        "description": f"{who} {op.rules}".strip(),
        "responses": {},
    }
    if op.answer is not None:
        out["responses"][str(op.status)] = {
            "description": "Created" if op.status == 201 else "OK",
            "content": {"application/json": {"schema": {"$ref": _S + op.answer.__name__}}},
        }
    elif not op.responses:
        out["responses"]["200"] = {
            "description": "OK",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    out["responses"] |= op.responses
    out["responses"]["4XX"] = {"description": "A problem a person can read", "content": _PROBLEM}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": schema}
        for name, schema in op.path.items()
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query, components)
    parameters += _EXTRA_QUERY.get((method, path), [])
    if not op.public and method in ("post", "put", "delete"):
        parameters.append(IDEMPOTENCY_HEADER)
    if parameters:
        out["parameters"] = parameters
    if op.body is not None:
        body = components[op.body.__name__]
        out["requestBody"] = {
            # A body with no required member may be left out: the server reads it as {}.
            "required": bool(body.get("required") or body.get("oneOf")),
            "content": {"application/json": {"schema": {"$ref": _S + op.body.__name__}}},
        }
    if op.public:
        out["security"] = []
    return out


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document; built once, it never changes while the process runs."""
    components = _components()
    paths: dict[str, Any] = {
        path: {method: _operation(method, path, op, components) for method, op in ops.items()}
        for path, ops in OPERATIONS.items()
    }
    paths["/api/v1/ws"] = WEBSOCKET
    for ops in OPERATIONS.values():
        for op in ops.values():
            if op.query is not None:
                components.pop(op.query.__name__, None)  # spread into parameters above
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Duet API",
            "version": "1.0.0",
            "description": "Scheduling of 1-1 chats at virtual career fairs. Errors are "
            "application/problem+json (RFC 9457) with a sentence in `detail` and, for a bad "
            "field, its name in `field`. Times are UTC ISO-8601 with a Z; responses carry the "
            "server's `now` so clients can count down without trusting their own clock. A "
            "method a path does not support answers 405 with `Allow`. Every answer carries "
            "`X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` and (API "
            "answers) `Cache-Control: no-store`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (HS256)"}
            },
            "schemas": components,
        },
        "paths": paths,
    }
