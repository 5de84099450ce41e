"""What a webhook says: the event types and one typed payload per kind, declared once.

The body of every webhook is a Standard Webhooks envelope, `{"type", "timestamp", "data"}`;
`data` is one of the structs below. docs/webhooks.md describes them, and the OpenAPI document's
`webhooks` section is generated from them (web/openapi.py), so the two cannot drift apart.
`store_webhooks.record` takes the event type and its payload in the transaction of the change.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

Instant = Annotated[datetime, Meta(tz=True)]
SideName = Literal["employee", "participant"]


class EventType(StrEnum):
    CHAT_REQUESTED = "chat.requested"
    CHAT_APPROVED = "chat.approved"
    CHAT_DECLINED = "chat.declined"
    CHAT_WITHDRAWN = "chat.withdrawn"
    CHAT_CONFIRMED = "chat.confirmed"
    CHAT_RESCHEDULED = "chat.rescheduled"
    CHAT_CANCELLED = "chat.cancelled"
    CHAT_COMPLETED = "chat.completed"
    CHAT_NO_SHOW = "chat.no_show"
    ROOM_OPENED = "room.opened"
    ROOM_CLOSED = "room.closed"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"
    SUPPORT_REQUESTED = "support.requested"
    CALL_QUALITY = "call.quality"


class ChatPayload(Struct, kw_only=True):
    """A chat's state after the change (every `chat.*` event)."""

    chat_id: str
    event_id: str
    company_id: str
    employee_id: str
    participant_id: str
    initiator: SideName
    state: Literal[
        "requested",
        "approved",
        "confirmed",
        "completed",
        "no_show",
        "declined",
        "withdrawn",
        "cancelled",
    ]
    starts_at: Instant | None
    ends_at: Instant | None
    # The decline message or the cancel reason, when the change had one.
    reason: str = ""
    # chat.no_show: who did not come ("employee", "participant" or "both").
    no_show_side: str = ""
    # Bumped by each reschedule, as the calendar file's SEQUENCE.
    sequence: int = 0


class RoomPayload(Struct, kw_only=True):
    """room.opened (the first person entered the chat's room) and room.closed (its join
    window ended and the chat was settled, or the chat was cancelled while the room was open)."""

    chat_id: str
    event_id: str
    at: Instant


class ParticipantPayload(Struct, kw_only=True):
    """participant.joined (a person entered the room, not a resume within the reconnect
    grace) and participant.left (`reason` "left": they hung up; "timeout": they dropped and did
    not come back within the grace)."""

    chat_id: str
    event_id: str
    user_id: str
    side: SideName
    at: Instant
    reason: Literal["joined", "left", "timeout"] = "joined"


class SupportPayload(Struct, kw_only=True):
    """support.requested: someone in a call pressed Support."""

    chat_id: str
    event_id: str
    user_id: str
    side: SideName
    message: str
    at: Instant


class CallQualitySide(Struct, kw_only=True):
    """One person's figures over the call, from the client's `stats` messages."""

    user_id: str
    samples: int
    rtt_ms_avg: float | None = None
    rtt_ms_max: float | None = None
    packet_loss_avg: float | None = None  # 0..1
    jitter_ms_avg: float | None = None
    frames_decoded: int | None = None
    frames_dropped: int | None = None
    frame_width: int | None = None
    frame_height: int | None = None
    frame_rate_avg: float | None = None
    # The selected candidate pair: "host" | "srflx" | "prflx" | "relay", over "udp" | "tcp" | "tls".
    candidate_type: str = ""
    transport: str = ""
    grade: Literal["good", "fair", "poor", "unknown"] = "unknown"


class CallQualityPayload(Struct, kw_only=True):
    """call.quality: a summary per call, sent once at its end."""

    chat_id: str
    event_id: str
    relay: bool
    started_at: Instant | None
    ended_at: Instant
    sides: list[CallQualitySide]


Payload = ChatPayload | RoomPayload | ParticipantPayload | SupportPayload | CallQualityPayload

# Which payload each type carries (the OpenAPI `webhooks` section and the docs read this).
PAYLOAD_OF: dict[EventType, type[Payload]] = {
    **{t: ChatPayload for t in EventType if t.value.startswith("chat.")},
    EventType.ROOM_OPENED: RoomPayload,
    EventType.ROOM_CLOSED: RoomPayload,
    EventType.PARTICIPANT_JOINED: ParticipantPayload,
    EventType.PARTICIPANT_LEFT: ParticipantPayload,
    EventType.SUPPORT_REQUESTED: SupportPayload,
    EventType.CALL_QUALITY: CallQualityPayload,
}


class Envelope(Struct):
    """The body of a webhook (Standard Webhooks): `type`, when it happened, and its data."""

    type: str
    timestamp: Instant
    data: Payload


_encode = msgspec.json.Encoder().encode


def envelope_json(kind: EventType, data: Payload, now: datetime) -> str:
    """The exact body that is stored, signed and sent (the same bytes on every attempt)."""
    expected = PAYLOAD_OF[kind]
    if not isinstance(data, expected):
        raise TypeError(f"{kind.value} carries a {expected.__name__}, not {type(data).__name__}")
    return _encode(Envelope(kind.value, now, data)).decode()


def parse_types(text: str) -> list[EventType]:
    """The endpoint's stored list ("a,b") back as event types (unknown names are skipped)."""
    known = {t.value: t for t in EventType}
    return [known[name] for name in text.split(",") if name in known]
