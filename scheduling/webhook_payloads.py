"""What a webhook says: the event types and one typed payload per kind, declared once.

The body of every webhook is a Standard Webhooks envelope, `{"type", "timestamp", "data"}`;
`data` is one of the structs below. docs/webhooks.md describes them, and the OpenAPI document's
`webhooks` section is generated from them (web/openapi.py), so the two cannot drift apart.
`store_webhooks.record` takes the event type and its payload in the transaction of the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

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
    request_id: str  # the Support request (the organizer's live board names it too)
    user_id: str
    side: SideName
    message: str
    at: Instant


class CallQualitySide(Struct, kw_only=True):
    """One person's figures over the call, summed up from their client's `stats` messages
    (rooms/call_quality.py keeps medians and maxima, never the samples)."""

    user_id: str
    side: SideName
    samples: int
    verdict: Literal["good", "fair", "poor", "unknown"] = "unknown"
    rtt_ms_median: float | None = None
    rtt_ms_max: float | None = None
    loss_median: float | None = None  # 0..1
    loss_max: float | None = None
    jitter_ms_median: float | None = None
    jitter_ms_max: float | None = None
    fps_median: float | None = None
    frames_decoded: int = 0
    frames_dropped: int = 0
    frame_width: int | None = None
    frame_height: int | None = None
    # The selected candidate pair: "host" | "srflx" | "prflx" | "relay", over "udp" | "tcp" | "tls".
    candidate_type: str = ""
    transport: str = ""
    relay_mode: bool = False


class CallQualityPayload(Struct, kw_only=True):
    """call.quality: a summary per call, sent once at its end (when the chat is settled), with
    a side for each person whose client sent figures."""

    chat_id: str
    event_id: str
    ended_at: Instant
    sides: list[CallQualitySide]


def call_quality_side(user_id: str, side: SideName, summary: Mapping[str, Any]) -> CallQualitySide:
    """A stored summary (`Summary.as_dict`) as the webhook's figures."""

    def figure(name: str, which: str) -> float | None:
        value = (summary.get(name) or {}).get(which)
        return None if value is None else float(value)

    size = summary.get("frame_size") or (None, None)
    verdict = summary.get("verdict")
    return CallQualitySide(
        user_id=user_id,
        side=side,
        samples=int(summary.get("samples", 0)),
        verdict=verdict if verdict in ("good", "fair", "poor") else "unknown",
        rtt_ms_median=figure("rtt_ms", "median"),
        rtt_ms_max=figure("rtt_ms", "max"),
        loss_median=figure("loss", "median"),
        loss_max=figure("loss", "max"),
        jitter_ms_median=figure("jitter_ms", "median"),
        jitter_ms_max=figure("jitter_ms", "max"),
        fps_median=None if summary.get("fps_median") is None else float(summary["fps_median"]),
        frames_decoded=int(summary.get("frames_decoded") or 0),
        frames_dropped=int(summary.get("frames_dropped") or 0),
        frame_width=None if size[0] is None else int(size[0]),
        frame_height=None if size[1] is None else int(size[1]),
        candidate_type=str(summary.get("pair") or ""),
        transport=str(summary.get("transport") or ""),
        relay_mode=bool(summary.get("relay_mode", False)),
    )


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
