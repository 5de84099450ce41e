"""The OpenAPI 3.1 document of Duet's REST API; `tests/integration/test_openapi.py` holds it to the routes.

Written as data (not generated from handlers) so it reads as the contract; the tests check that
every route is described, every described path answers, and responses match their schemas.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_S = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _S + name}


def _obj(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "format": "date-time"}
_NTIME = {"type": ["string", "null"], "format": "date-time"}
_DATE = {"type": "string", "format": "date"}
_STATES = [
    "requested",
    "approved",
    "confirmed",
    "completed",
    "no_show",
    "declined",
    "withdrawn",
    "cancelled",
]

SCHEMAS: dict[str, Any] = {
    "Problem": _obj(
        ["type", "title", "status", "detail", "code"],
        type=_STR,
        title=_STR,
        status=_INT,
        detail=_STR,
        code=_STR,
        field=_STR,
    ),
    "EventDay": _obj(
        ["date", "start", "end", "durations"],
        date=_DATE,
        start={"type": "string", "examples": ["09:00"]},
        end=_STR,
        durations={"type": "array", "items": {"enum": [10, 15, 20, 30]}},
    ),
    "Quota": _obj(
        ["company_id", "slot_quota"], company_id=_STR, company_name=_STR, slot_quota=_INT
    ),
    "EventInput": _obj(
        ["name", "timezone", "days"],
        name=_STR,
        timezone={"type": "string", "examples": ["Europe/Berlin"]},
        days={"type": "array", "items": _ref("EventDay")},
        quotas={"type": "array", "items": _ref("Quota")},
        employee_requests_allowed=_BOOL,
        join_opens_before_s=_INT,
        join_grace_after_s=_INT,
        support_url=_STR,
        media_mode={"enum": ["p2p", "relay"]},
    ),
    "Event": _obj(
        [
            "id",
            "name",
            "timezone",
            "days",
            "quotas",
            "employee_requests_allowed",
            "join_opens_before_s",
            "join_grace_after_s",
            "support_url",
            "media_mode",
        ],
        id=_STR,
        name=_STR,
        timezone=_STR,
        days={"type": "array", "items": _ref("EventDay")},
        quotas={"type": "array", "items": _ref("Quota")},
        employee_requests_allowed=_BOOL,
        join_opens_before_s=_INT,
        join_grace_after_s=_INT,
        support_url=_STR,
        media_mode={"enum": ["p2p", "relay"]},
    ),
    "Profile": _obj(
        [],
        background=_STR,
        experience_level=_STR,
        languages={"type": "array", "items": _STR},
        topics={"type": "array", "items": _STR},
        custom_question=_STR,
    ),
    "Slot": _obj(
        ["id", "date", "starts_at", "ends_at", "published", "booked"],
        id=_INT,
        date=_DATE,
        starts_at=_TIME,
        ends_at=_TIME,
        published=_BOOL,
        booked=_BOOL,
    ),
    "SlotsFigure": _obj(["quota", "used", "available"], quota=_INT, used=_INT, available=_INT),
    "AvailabilityInput": _obj(
        [],
        days={
            "type": "array",
            "items": _obj(
                ["date", "duration_min"],
                date=_DATE,
                duration_min={"enum": [10, 15, 20, 30]},
                slots={"oneOf": [{"type": "array", "items": _TIME}, {"const": "all"}]},
            ),
        },
        profile=_ref("Profile"),
    ),
    "Availability": _obj(
        [
            "event_id",
            "employee_id",
            "status",
            "pending_changes",
            "profile",
            "days",
            "slots",
            "company_slots",
        ],
        event_id=_STR,
        employee_id=_STR,
        status={"enum": ["none", "draft", "published"]},
        pending_changes=_INT,
        profile=_ref("Profile"),
        days={
            "type": "array",
            "items": _obj(["date", "duration_min"], date=_DATE, duration_min=_INT),
        },
        slots={"type": "array", "items": _ref("Slot")},
        company_slots=_ref("SlotsFigure"),
    ),
    "Offer": _obj(
        ["employee_id", "name", "company_id", "company_name", "profile", "free_slots"],
        employee_id=_STR,
        name=_STR,
        headline=_STR,
        company_id=_STR,
        company_name=_STR,
        profile=_ref("Profile"),
        free_slots=_INT,
    ),
    "User": _obj(
        ["id", "name", "role"],
        id=_STR,
        name=_STR,
        role={"enum": ["organizer", "employee", "participant"]},
        company_id=_NSTR,
        headline=_STR,
        now=_TIME,
    ),
    "JoinWindow": _obj(
        ["open", "join_opens_at", "join_closes_at", "now", "reason", "message"],
        open=_BOOL,
        join_opens_at=_NTIME,
        join_closes_at=_NTIME,
        now=_TIME,
        reason={"enum": [None, "not_confirmed", "cancelled", "too_early", "ended"]},
        message=_NSTR,
    ),
    "Chat": _obj(
        [
            "id",
            "event_id",
            "employee",
            "participant",
            "initiator",
            "state",
            "tab",
            "slot",
            "actions",
            "join",
        ],
        id=_STR,
        event_id=_STR,
        company_id=_STR,
        employee=_obj(["id", "name"], id=_STR, name=_STR),
        participant=_obj(["id", "name"], id=_STR, name=_STR),
        initiator={"enum": ["employee", "participant"]},
        state={"enum": _STATES},
        tab={"enum": ["requested", "in_scheduling", "confirmed", "completed", "history"]},
        slot={
            "oneOf": [
                {"type": "null"},
                _obj(
                    ["id", "starts_at", "ends_at"],
                    id={"type": ["integer", "null"]},
                    starts_at=_TIME,
                    ends_at=_TIME,
                ),
            ]
        },
        request_message=_STR,
        answer=_STR,
        decline_message=_STR,
        cancel_reason=_STR,
        no_show_side=_STR,
        actions={
            "type": "array",
            "items": {
                "enum": [
                    "approve",
                    "decline",
                    "withdraw",
                    "book",
                    "reschedule",
                    "cancel",
                    "complete",
                    "no_show",
                ]
            },
        },
        join=_ref("JoinWindow"),
        ics_url=_NSTR,
        created_at=_TIME,
        updated_at=_TIME,
    ),
    "IceServer": _obj(
        ["urls"], urls={"type": "array", "items": _STR}, username=_NSTR, credential=_NSTR
    ),
    "JoinGrant": _obj(
        [
            "ticket",
            "ws_url",
            "subprotocols",
            "ice_servers",
            "join_window",
            "server_time",
            "ticket_expires_in_s",
        ],
        ticket=_STR,
        ws_url=_STR,
        subprotocols={"type": "array", "items": _STR},
        ice_servers={"type": "array", "items": _ref("IceServer")},
        join_window=_ref("JoinWindow"),
        server_time=_TIME,
        server_time_ms=_INT,
        ticket_expires_in_s=_INT,
        media_mode={"enum": ["p2p", "relay"]},
        support_url=_STR,
    ),
    "ChatLog": _obj(
        ["chat_id", "last_seq", "messages"],
        chat_id=_STR,
        last_seq=_INT,
        messages={
            "type": "array",
            "items": _obj(
                ["seq", "client_msg_id", "sender_id", "text", "sent_at"],
                seq=_INT,
                client_msg_id=_STR,
                sender_id=_STR,
                text=_STR,
                sent_at=_TIME,
            ),
        },
    ),
    "ChatList": _obj(["now", "chats"], now=_TIME, chats={"type": "array", "items": _ref("Chat")}),
    "PrecallSetup": _obj(
        ["ice_servers", "max_duration_s"],
        ice_servers={"type": "array", "items": _ref("IceServer")},
        max_duration_s=_INT,
    ),
    "PrecallOffer": _obj(["sdp", "type"], sdp=_STR, type={"const": "offer"}),
    "PrecallAnswer": _obj(
        ["id", "sdp", "type", "expires_in_s"],
        id=_STR,
        sdp=_STR,
        type={"const": "answer"},
        expires_in_s=_INT,
    ),
    "PrecallVerdict": _obj(
        [
            "id",
            "state",
            "closed_reason",
            "elapsed_s",
            "expires_in_s",
            "camera",
            "microphone",
            "connection",
            "path",
            "rtt_ms",
            "loss_pct",
            "bitrate_kbps",
            "video",
            "audio",
            "summary",
        ],
        id=_STR,
        state={"enum": ["connecting", "connected", "failed", "closed"]},
        closed_reason={
            "enum": [
                None,
                "deleted",
                "time_limit",
                "disconnected",
                "connection_failed",
                "shutdown",
                "abandoned",
            ]
        },
        elapsed_s={"type": "number"},
        expires_in_s=_INT,
        camera={"enum": ["checking", "ok", "no_frames", "unknown"]},
        microphone={"enum": ["checking", "ok", "silent", "no_audio", "unknown"]},
        connection={"enum": ["checking", "good", "fair", "poor", "failed", "unknown"]},
        path={"enum": ["direct", "turn", "unknown"]},
        rtt_ms={"type": ["number", "null"]},
        loss_pct={"type": ["number", "null"]},
        bitrate_kbps={"type": ["integer", "null"]},
        video=_obj(
            ["frames", "width", "height", "fps"],
            frames=_INT,
            width={"type": ["integer", "null"]},
            height={"type": ["integer", "null"]},
            fps={"type": ["number", "null"]},
        ),
        audio=_obj(["frames", "peak_dbfs"], frames=_INT, peak_dbfs={"type": ["number", "null"]}),
        summary=_STR,
    ),
    "History": _obj(
        ["chat_id", "history"],
        chat_id=_STR,
        history={
            "type": "array",
            "items": _obj(
                ["at", "actor_id", "action", "to"],
                at=_TIME,
                actor_id=_STR,
                actor_side=_STR,
                action=_STR,
                **{"from": _NSTR},
                to=_STR,
                reason=_STR,
            ),
        },
    ),
}


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": _ref(schema)}}}


def _ok(
    schema: str | dict[str, Any], description: str = "OK", status: str = "200"
) -> dict[str, Any]:
    body = _ref(schema) if isinstance(schema, str) else schema
    return {
        status: {"description": description, "content": {"application/json": {"schema": body}}},
        "4XX": {
            "description": "A problem a person can read",
            "content": {"application/problem+json": {"schema": _ref("Problem")}},
        },
    }


def _op(
    summary: str,
    responses: dict[str, Any],
    body: str | dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    auth: bool = True,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses}
    if body is not None:
        schema = _ref(body) if isinstance(body, str) else body
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    if params:
        op["parameters"] = params
    if not auth:
        op["security"] = []
    return op


def _path(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "path", "required": True, "schema": _STR} for n in names]


def _query(
    name: str, required: bool = False, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema or _STR}


_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": _STR,
    "description": "Retrying with the same key replays the first answer.",
}
_TEXT_BODY = _obj([], message=_STR, reason=_STR)


def _chat_action(summary: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"post": _op(summary, _ok("Chat"), body, [*_path("chat_id"), _IDEMPOTENCY])}


def _paths() -> dict[str, Any]:
    ev = _path("event_id")
    return {
        "/healthz": {"get": _op("Liveness", _ok(_obj(["status"], status=_STR)), auth=False)},
        "/readyz": {
            "get": _op(
                "Readiness (database reachable)",
                _ok(_obj(["status"], status=_STR))
                | {
                    "503": {
                        "description": "The database does not answer (code not_ready)",
                        "content": {"application/problem+json": {"schema": _ref("Problem")}},
                    }
                },
                auth=False,
            )
        },
        "/api/v1/openapi.json": {"get": _op("This document", _ok({"type": "object"}), auth=False)},
        "/api/v1/dev/users": {
            "get": _op(
                "Seeded people (dev/demo sign-in only)",
                _ok(_obj(["users"], users={"type": "array", "items": _ref("User")})),
                auth=False,
            )
        },
        "/api/v1/dev/login": {
            "post": _op(
                "Mint a token for a seeded person (dev/demo only)",
                _ok(_obj(["token", "user"], token=_STR, user=_ref("User"))),
                _obj(["user_id"], user_id=_STR),
                auth=False,
            )
        },
        "/api/v1/me": {"get": _op("The signed-in person and the server's clock", _ok("User"))},
        "/api/v1/me/schedule": {
            "get": _op(
                "My Schedule: confirmed chats in time order",
                _ok("ChatList"),
                params=[_query("event_id")],
            )
        },
        "/api/v1/events": {
            "get": _op(
                "List events",
                _ok(_obj(["events"], events={"type": "array", "items": _ref("Event")})),
            ),
            "post": _op(
                "Create an event (organizer)",
                _ok("Event", "Created", "201"),
                "EventInput",
                [_IDEMPOTENCY],
            ),
        },
        "/api/v1/events/{event_id}": {
            "get": _op("One event", _ok("Event"), params=ev),
            "put": _op(
                "Replace an event's settings (organizer)",
                _ok("Event"),
                "EventInput",
                [*ev, _IDEMPOTENCY],
            ),
        },
        "/api/v1/events/{event_id}/quotas/{company_id}": {
            "put": _op(
                "Set a company's 1-1 slot quota (organizer)",
                _ok("Event"),
                _obj(["slot_quota"], slot_quota=_INT),
                _path("event_id", "company_id"),
            ),
        },
        "/api/v1/events/{event_id}/availability": {
            "get": _op(
                "My availability, profile and the company's slot figure (employee)",
                _ok("Availability"),
                params=ev,
            ),
            "put": _op(
                "Save a draft of my availability (employee)",
                _ok("Availability"),
                "AvailabilityInput",
                [*ev, _IDEMPOTENCY],
            ),
        },
        "/api/v1/events/{event_id}/availability/confirm": {
            "post": _op(
                "Confirm Availability: publish pending slots (employee)",
                _ok("Availability"),
                None,
                [*ev, _IDEMPOTENCY],
            ),
        },
        "/api/v1/events/{event_id}/grid": {
            "get": _op(
                "The slot grid of a day at one duration",
                _ok(
                    _obj(
                        ["date", "duration_min", "slots"],
                        date=_DATE,
                        duration_min=_INT,
                        slots={
                            "type": "array",
                            "items": _obj(["starts_at", "ends_at"], starts_at=_TIME, ends_at=_TIME),
                        },
                    )
                ),
                params=[*ev, _query("date", True), _query("duration_min", True, _INT)],
            ),
        },
        "/api/v1/events/{event_id}/quota": {
            "get": _op(
                "N of M slots available for a company",
                _ok(
                    _obj(
                        ["company_id", "quota", "used", "available"],
                        company_id=_STR,
                        quota=_INT,
                        used=_INT,
                        available=_INT,
                    )
                ),
                params=[*ev, _query("company_id")],
            ),
        },
        "/api/v1/events/{event_id}/offers": {
            "get": _op(
                "Employees offering 1-1 chats, with profiles",
                _ok(_obj(["offers"], offers={"type": "array", "items": _ref("Offer")})),
                params=ev,
            ),
        },
        "/api/v1/events/{event_id}/employees/{employee_id}/slots": {
            "get": _op(
                "An employee's free slots",
                _ok(_obj(["slots"], slots={"type": "array", "items": _ref("Slot")})),
                params=_path("event_id", "employee_id"),
            ),
        },
        "/api/v1/events/{event_id}/participants": {
            "get": _op(
                "Participants an employee may invite",
                _ok(
                    _obj(
                        ["event_id", "participants"],
                        event_id=_STR,
                        participants={"type": "array", "items": _ref("User")},
                    )
                ),
                params=ev,
            ),
        },
        "/api/v1/events/{event_id}/chats": {
            "post": _op(
                "Request a chat (participant → employee_id) or invite (employee → participant_id)",
                _ok("Chat", "Created", "201"),
                _obj([], employee_id=_STR, participant_id=_STR, message=_STR, answer=_STR),
                [*ev, _IDEMPOTENCY],
            ),
        },
        "/api/v1/chats": {
            "get": _op(
                "My chats, optionally one tab",
                _ok("ChatList"),
                params=[
                    _query("event_id"),
                    _query(
                        "tab",
                        schema={
                            "enum": [
                                "requested",
                                "in_scheduling",
                                "confirmed",
                                "completed",
                                "history",
                            ]
                        },
                    ),
                ],
            ),
        },
        "/api/v1/chats/{chat_id}": {
            "get": _op("One chat with its join window", _ok("Chat"), params=_path("chat_id"))
        },
        "/api/v1/chats/{chat_id}/approve": _chat_action(
            "Approve a request (or accept an invitation)", _obj([])
        ),
        "/api/v1/chats/{chat_id}/decline": _chat_action(
            "Decline with a message", _obj(["message"], message=_STR)
        ),
        "/api/v1/chats/{chat_id}/withdraw": _chat_action("Withdraw my own request", _obj([])),
        "/api/v1/chats/{chat_id}/book": _chat_action(
            "Pick a slot (participant)", _obj(["slot_id"], slot_id=_INT)
        ),
        "/api/v1/chats/{chat_id}/reschedule": _chat_action(
            "Move a confirmed chat to another free slot", _obj(["slot_id"], slot_id=_INT)
        ),
        "/api/v1/chats/{chat_id}/cancel": _chat_action("Cancel with a reason", _TEXT_BODY),
        "/api/v1/chats/{chat_id}/join": {
            "post": _op(
                "A single-use ticket (~60 s) for the signaling WebSocket; only the chat's two people, inside the join window",
                _ok("JoinGrant"),
                None,
                _path("chat_id"),
            )
        },
        "/api/v1/chats/{chat_id}/messages": {
            "get": _op(
                "The side-panel chat log (readable after the chat too)",
                _ok("ChatLog"),
                params=[*_path("chat_id"), _query("after_seq", schema=_INT)],
            )
        },
        "/api/v1/ws": {
            "get": {
                "summary": "The signaling WebSocket (subprotocols duet.v1.json, duet.v1.msgpack); see docs/protocol.md",
                "security": [],
                "responses": {
                    "101": {
                        "description": "Switching protocols; the first message must be join with a ticket"
                    },
                    "4XX": {
                        "description": "Origin not allowed (403) or no supported subprotocol (400)",
                        "content": {"application/problem+json": {"schema": _ref("Problem")}},
                    },
                },
            }
        },
        "/api/v1/precall": {
            "get": _op(
                "Before a pre-call check: the ICE servers for the offer and the check's length",
                _ok("PrecallSetup"),
            ),
            "post": _op(
                "Start a pre-call check: send the offer once ICE gathering is complete (the server takes no trickled candidates); the server answers, mirrors camera and mic back, and grades them (503 when too many checks run)",
                _ok("PrecallAnswer", "Created", "201"),
                "PrecallOffer",
            ),
        },
        "/api/v1/precall/{check_id}": {
            "get": _op(
                "The pre-call verdict so far (or the final one, for ~2 minutes after it ended)",
                _ok("PrecallVerdict"),
                params=_path("check_id"),
            ),
            "delete": _op(
                "End a pre-call check and get its final verdict",
                _ok("PrecallVerdict"),
                params=_path("check_id"),
            ),
        },
        "/api/v1/chats/{chat_id}/history": {
            "get": _op("Who moved the chat when", _ok("History"), params=_path("chat_id"))
        },
        "/api/v1/chats/{chat_id}.ics": {
            "get": {
                "summary": "Calendar file (stable UID, SEQUENCE bumped on reschedule, METHOD:CANCEL after cancel)",
                "parameters": _path("chat_id"),
                "responses": {
                    "200": {
                        "description": "iCalendar",
                        "content": {"text/calendar": {"schema": _STR}},
                    },
                    "4XX": {
                        "description": "Problem",
                        "content": {"application/problem+json": {"schema": _ref("Problem")}},
                    },
                },
            }
        },
    }


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document; built once, it never changes while the process runs."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Duet API",
            "version": "1.0.0",
            "description": "Scheduling of 1-1 chats at virtual career fairs. Errors are application/problem+json (RFC 9457). "
            "Times are UTC ISO-8601 with a Z; responses carry the server's `now` so clients can count down "
            "without trusting their own clock.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (HS256)"}
            },
            "schemas": SCHEMAS,
        },
        "paths": _paths(),
    }
