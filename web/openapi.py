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

from scheduling.store_exports import CALL_QUALITY_COLUMNS, COMPANY_COLUMNS, ORGANIZER_COLUMNS
from scheduling.webhook_payloads import PAYLOAD_OF
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
    raw_body: dict[str, Any] | None = None  # a requestBody that is not a JSON struct (uploads)


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
    "/api/v1/dev/mail": {
        "get": Op(
            "The demo's mail outbox: mails the catch-all wrote to mail_dir (dev/demo only, "
            "else 404)",
            r.MailList,
            public=True,
        )
    },
    "/api/v1/dev/mail/{mail_id}": {
        "get": Op(
            "One outbox mail's HTML body, for a sandboxed frame (dev/demo only, else 404)",
            None,
            path={"mail_id": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,200}$"}},
            public=True,
            responses={
                "200": {
                    "description": "The mail's HTML",
                    "content": {"text/html": {"schema": _STRING}},
                }
            },
        )
    },
    "/api/v1/me": {"get": Op("The signed-in person and the server's clock", r.Me)},
    "/api/v1/me/time-zone": {
        "get": Op("My time zone setting (null: the browser's)", rb.TimeZoneSetting),
        "put": Op(
            "Set my time zone for showing times (null: follow the browser's)",
            rb.TimeZoneSetting,
            body=rb.TimeZoneSetting,
        ),
    },
    "/api/v1/me/notifications": {
        "get": Op("Which emails I get, and my address", r.NotificationSettings),
        "put": Op(
            "Turn kinds of email on or off",
            r.NotificationSettings,
            body=rb.NotificationChoices,
            rules="Kinds not listed keep their setting; an unknown kind is refused (422). "
            "Mail goes to the address the host platform's token names (`email` claim).",
        ),
    },
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
        "get": Op(
            "Employees offering 1-1 chats, with their profiles: search, filters and paging",
            r.OfferList,
            path=_event(),
            query=rb.OffersQuery,
            rules="Checked against the event (422): `free_on` is one of its days (listed in "
            "`facets.days`). The answer carries an ETag; with If-None-Match naming it, 304.",
            responses={"304": {"description": "The client's copy (If-None-Match) is current"}},
        )
    },
    "/api/v1/events/{event_id}/employees/{employee_id}/slots": {
        "get": Op(
            "An employee's free slots",
            r.SlotList,
            path=_event(employee_id=_STRING),
            rules="Published, not booked and not yet started, in time order. The answer "
            "carries an ETag; with If-None-Match naming it, 304.",
            responses={"304": {"description": "The client's copy (If-None-Match) is current"}},
        )
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

_HOOK = {"endpoint_id": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}
_HOOK_RULES = "The endpoint must be one of this event's (404 otherwise)."
OPERATIONS |= {
    "/api/v1/events/{event_id}/webhooks": {
        "get": Op(
            "The event's webhook endpoints",
            r.WebhookEndpointList,
            path=_event(),
            roles=("organizer",),
        ),
        "post": Op(
            "Add a webhook endpoint; its signing secret is in this answer only",
            r.WebhookEndpointCreated,
            status=201,
            body=rb.WebhookEndpointInput,
            path=_event(),
            roles=("organizer",),
            rules="The URL's host must resolve to public addresses only: loopback, private, "
            "link-local, CGNAT, multicast and metadata addresses are refused (422 url_refused) "
            "unless the operator allows internal ones (docs/webhooks.md).",
        ),
    },
    "/api/v1/events/{event_id}/webhooks/{endpoint_id}": {
        "get": Op(
            "One webhook endpoint",
            r.WebhookEndpoint,
            path=_event(**_HOOK),
            roles=("organizer",),
            rules=_HOOK_RULES,
        ),
        "put": Op(
            "Turn an endpoint on or off and choose its events",
            r.WebhookEndpoint,
            body=rb.WebhookEndpointUpdate,
            path=_event(**_HOOK),
            roles=("organizer",),
            rules=_HOOK_RULES + " A disabled endpoint gets no new events; those already "
            "waiting are still sent.",
        ),
        "delete": Op(
            "Delete an endpoint and its deliveries",
            r.Status,
            path=_event(**_HOOK),
            roles=("organizer",),
            rules=_HOOK_RULES,
        ),
    },
    "/api/v1/events/{event_id}/webhooks/{endpoint_id}/rotate-secret": {
        "post": Op(
            "Replace the endpoint's signing secret (the new one is in this answer only)",
            r.WebhookSecret,
            path=_event(**_HOOK),
            roles=("organizer",),
            rules=_HOOK_RULES,
        )
    },
    "/api/v1/events/{event_id}/webhooks/{endpoint_id}/deliveries": {
        "get": Op(
            "The endpoint's 50 most recent deliveries, newest first",
            r.WebhookDeliveryList,
            query=rb.DeliveriesQuery,
            path=_event(**_HOOK),
            roles=("organizer",),
            rules=_HOOK_RULES,
        )
    },
    "/api/v1/events/{event_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/retry": {
        "post": Op(
            "Send a delivery again now, with a fresh 24 h of retries (same webhook-id)",
            r.WebhookDelivery,
            path=_event(**_HOOK, delivery_id={"type": "integer", "minimum": 0}),
            roles=("organizer",),
            rules=_HOOK_RULES + " The delivery must be one of the endpoint's (404).",
        )
    },
}

_PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
# An upload is judged by its bytes, so it is documented under the generic binary type.
_UPLOAD = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_CSV = {"text/csv": {"schema": {"type": "string"}}}
_NO_CONTENT = {"204": {"description": "Deleted"}}
_COMPANY_ONLY = (
    "Only employees of the chat's company (the chat's employee and colleagues) may do this; "
    "an organizer gets 403, anyone else 404."
)

# Issue 14, "around the call": résumés, after-chat notes and marks, feedback, exports.
AROUND_THE_CALL: dict[str, dict[str, Op]] = {
    "/api/v1/me/resume": {
        "get": Op("My résumé, if I uploaded one", r.Resume, roles=("participant",)),
        "put": Op(
            "Upload or replace my résumé (the PDF's bytes as the body)",
            r.Resume,
            roles=("participant",),
            rules="The body must be a PDF, judged by its content whatever its name or "
            "Content-Type (application/pdf as well): anything else is refused (422 not_pdf), "
            "as is a file over 5 MB (413 too_large). `filename` is only the name shown and "
            "downloaded.",
            raw_body={"required": True, "content": _UPLOAD},
        ),
        "delete": Op("Delete my résumé", None, roles=("participant",), responses=_NO_CONTENT),
    },
    "/api/v1/me/resume.pdf": {
        "get": Op(
            "Download my résumé (attachment)",
            None,
            roles=("participant",),
            responses={"200": {"description": "The PDF", "content": _PDF}},
        )
    },
    "/api/v1/chats/{chat_id}/resume.pdf": {
        "get": Op(
            "Download the chat's participant's résumé (attachment)",
            None,
            path=_chat(),
            rules=_COMPANY_ONLY,
            responses={"200": {"description": "The PDF", "content": _PDF}},
        )
    },
    "/api/v1/events/{event_id}/notes": {
        "get": Op(
            "My company's notes on participants and its no-show marks at this event",
            r.CompanyNotes,
            path=_event(),
            roles=("employee",),
            rules="Only the caller's own company's notes: another company's never show.",
        )
    },
    "/api/v1/events/{event_id}/notes/{participant_id}": {
        "put": Op(
            "Write my company's private notes, rating and next step on a participant",
            r.ParticipantNotes,
            body=rb.NotesInput,
            path=_event(participant_id=_STRING),
            roles=("employee",),
            rules="The company must have had a chat with the participant at this event (404).",
        )
    },
    "/api/v1/chats/{chat_id}/no-show": {
        "put": Op(
            "Mark (or unmark) that the participant did not come",
            r.ChatMark,
            body=rb.NoShowMark,
            path=_chat(),
            rules=_COMPANY_ONLY + " Only once the chat's slot is over (409).",
        )
    },
    "/api/v1/chats/{chat_id}/follow-up": {
        "post": Op(
            "Invite the chat's participant to a follow-up chat (a new employee request)",
            r.Chat,
            status=201,
            body=rb.FollowUp,
            path=_chat(),
            rules=_COMPANY_ONLY + " Only from a chat of the Completed tab (409); as any "
            "invitation, the event must let employees send requests (403), the caller must have "
            "confirmed their availability (409) and have no open request with the participant "
            "(409).",
        )
    },
    "/api/v1/chats/{chat_id}/feedback": {
        "get": Op(
            "My feedback on a chat",
            r.Feedback,
            path=_chat(),
            roles=("participant",),
            rules="The chat's participant only (others 404).",
        ),
        "put": Op(
            "Give feedback after the call (1-5 and a sentence)",
            r.Feedback,
            body=rb.FeedbackInput,
            path=_chat(),
            roles=("participant",),
            rules="The chat's participant only (others 404), once the chat can be joined (409); "
            "organizers see feedback only summed up per company.",
        ),
    },
    "/api/v1/events/{event_id}/feedback": {
        "get": Op(
            "Participants' feedback summed up per company",
            r.FeedbackSummary,
            path=_event(),
            roles=("organizer",),
            rules="Never per chat or per person; comments only for companies with enough "
            "answers (`min_responses_for_comments`), in alphabetical order.",
        )
    },
    "/api/v1/events/{event_id}/export/chats.csv": {
        "get": Op(
            "Every chat of the event as CSV (streamed)",
            None,
            path=_event(),
            roles=("organizer",),
            rules="Columns: "
            + ", ".join((*ORGANIZER_COLUMNS, *CALL_QUALITY_COLUMNS.columns))
            + " (the call's worse verdict, median round trip and loss of the two people, and its "
            "route: direct, turn or duet; empty when nobody measured). Cells a spreadsheet would run "
            "as a formula start with `'`.",
            responses={"200": {"description": "CSV", "content": _CSV}},
        )
    },
    "/api/v1/events/{event_id}/export/company.csv": {
        "get": Op(
            "My company's chats of the event with its notes, as CSV (streamed)",
            None,
            path=_event(),
            roles=("employee",),
            rules="Columns: " + ", ".join(COMPANY_COLUMNS) + ". Only the caller's company's "
            "chats; no feedback scores. Cells a spreadsheet would run as a formula start "
            "with `'`.",
            responses={"200": {"description": "CSV", "content": _CSV}},
        )
    },
}
OPERATIONS |= AROUND_THE_CALL

# The chat log's `after_seq` is read by its handler (web/api_join.py) directly.
_EXTRA_QUERY = {
    ("get", "/api/v1/chats/{chat_id}/messages"): [
        {"name": "after_seq", "in": "query", "required": False, "schema": {"type": "integer"}}
    ],
    # The résumé's name to show; the upload's body is its bytes (web/api_resumes.py).
    ("put", "/api/v1/me/resume"): [
        {
            "name": "filename",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "maxLength": 200},
        }
    ],
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
    if op.raw_body is not None:
        out["requestBody"] = op.raw_body
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
        "webhooks": webhooks_section(components),
    }


_WEBHOOK_HEADERS = (
    ("webhook-id", "The message id: the same on every attempt and replay (de-duplicate by it)."),
    ("webhook-timestamp", "Seconds since the Unix epoch when this attempt was signed."),
    ("webhook-signature", "v1,<base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}`>."),
)


def webhooks_section(components: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI 3.1 `webhooks`: what Duet POSTs to an endpoint, one entry per event type, each
    with its payload's schema (scheduling/webhook_payloads.py) added to `components`."""
    kinds = sorted(set(PAYLOAD_OF.values()), key=lambda t: t.__name__)
    _, schemas = msgspec.json.schema_components(kinds, ref_template=_S + "{name}")
    for schema in schemas.values():
        if "description" in schema:
            schema["description"] = inspect.cleandoc(schema["description"])
    components.update(schemas)
    out: dict[str, Any] = {}
    for kind, payload in PAYLOAD_OF.items():
        body = {
            "type": "object",
            "required": ["type", "timestamp", "data"],
            "properties": {
                "type": {"const": kind.value},
                "timestamp": {"type": "string", "format": "date-time"},
                "data": {"$ref": _S + payload.__name__},
            },
        }
        out[kind.value] = {
            "post": {
                "summary": f"{kind.value} (docs/webhooks.md)",
                "description": "Signed as Standard Webhooks says; retried with backoff for "
                "24 h until the endpoint answers 2xx; in order per chat.",
                "parameters": [
                    {
                        "name": name,
                        "in": "header",
                        "required": True,
                        "description": text,
                        "schema": {"type": "string"},
                    }
                    for name, text in _WEBHOOK_HEADERS
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {
                    "2XX": {"description": "Received; any other answer (or none) is retried"}
                },
                "security": [],
            }
        }
    return out
