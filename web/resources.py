"""What the API answers: every REST response body, declared once.

`web/views.py` builds these from domain records and `web/json_io.py` encodes them, so an
answer has exactly the fields its OpenAPI component (`web/openapi.py`) promises. Instants are
UTC and encode as ISO-8601 with a Z.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from scheduling.model import ChatState, Role
from scheduling.states import Action, Tab
from web.request_bodies import EventDay, MediaMode, Profile, TimeZoneName

# Aware instants: msgspec writes "format": "date-time" (RFC 3339 needs the offset) for these.
Instant = Annotated[datetime, Meta(tz=True)]


class Problem(Struct):
    """RFC 9457 problem details: a person reads `detail`, a program switches on `code`.

    Some problems carry more members (e.g. `join`, `retry_after_s`, `remaining`).
    """

    type: str
    title: str
    status: int
    detail: str
    code: str
    field: str | None = None


class Status(Struct):
    status: str


class Quota(Struct):
    company_id: str
    company_name: str
    slot_quota: int


class Event(Struct):
    id: str
    name: str
    timezone: TimeZoneName
    days: list[EventDay]
    quotas: list[Quota]
    employee_requests_allowed: bool
    join_opens_before_s: int
    join_grace_after_s: int
    support_url: str
    media_mode: MediaMode


class EventList(Struct):
    events: list[Event]


class Slot(Struct):
    id: int
    date: date
    starts_at: Instant
    ends_at: Instant
    published: bool
    booked: bool


class SlotList(Struct):
    slots: list[Slot]


class SlotsFigure(Struct):
    """The "N of M slots available" figure: `available` is never below 0."""

    quota: int
    used: int
    available: int


class CompanySlots(Struct):
    company_id: str
    quota: int
    used: int
    available: int


class DayDuration(Struct):
    date: date
    duration_min: int


class Availability(Struct):
    event_id: str
    employee_id: str
    status: Literal["none", "draft", "published"]
    pending_changes: int
    profile: Profile
    days: list[DayDuration]
    slots: list[Slot]
    company_slots: SlotsFigure


class Interval(Struct):
    starts_at: Instant
    ends_at: Instant


class Grid(Struct):
    date: date
    duration_min: int
    slots: list[Interval]


class Offer(Struct):
    employee_id: str
    name: str
    headline: str
    company_id: str
    company_name: str
    profile: Profile
    free_slots: int


class OfferList(Struct):
    offers: list[Offer]


class User(Struct):
    id: str
    name: str
    role: Role
    company_id: str | None
    headline: str


class UserList(Struct):
    users: list[User]


class ParticipantList(Struct):
    event_id: str
    participants: list[User]


class Me(User):
    """The signed-in person and the server's clock."""

    now: Instant


class DevToken(Struct):
    token: str
    user: User


class JoinWindow(Struct):
    """Whether the chat can be joined now; `reason` and `message` say why not."""

    open: bool
    join_opens_at: Instant | None
    join_closes_at: Instant | None
    now: Instant
    reason: Literal["not_confirmed", "cancelled", "too_early", "ended"] | None
    message: str | None


class Person(Struct):
    id: str
    name: str


class ChatSlot(Struct):
    id: int | None
    starts_at: Instant
    ends_at: Instant


class Chat(Struct):
    id: str
    event_id: str
    company_id: str
    employee: Person
    participant: Person
    initiator: Literal["employee", "participant"]
    state: ChatState
    tab: Tab
    slot: ChatSlot | None
    request_message: str
    answer: str
    decline_message: str
    cancel_reason: str
    no_show_side: str
    actions: list[Action]
    join: JoinWindow
    ics_url: str | None
    created_at: Instant
    updated_at: Instant


class ChatList(Struct):
    now: Instant
    chats: list[Chat]


class HistoryItem(Struct):
    at: Instant
    actor_id: str
    actor_side: str
    action: str
    from_state: str | None = field(name="from")
    to: str
    reason: str


class History(Struct):
    chat_id: str
    history: list[HistoryItem]


class IceServer(Struct, omit_defaults=True):
    """A browser `RTCIceServer`: Duet's own TURN with short-lived credentials."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class JoinGrant(Struct):
    """A single-use ticket (~60 s) for the signaling WebSocket, and what the call needs."""

    ticket: str
    ws_url: str
    subprotocols: list[str]
    ice_servers: list[IceServer]
    join_window: JoinWindow
    server_time: Instant
    server_time_ms: int
    ticket_expires_in_s: int
    media_mode: MediaMode
    support_url: str


class ChatMessage(Struct):
    seq: int
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: Instant


class SupportRequest(Struct):
    """A Support request raised from a call (docs/live.md)."""

    id: str
    chat_id: str
    user_id: str
    text: str
    created_at: Instant
    answered_at: Instant | None = None


class ChatLog(Struct):
    chat_id: str
    last_seq: int
    messages: list[ChatMessage]


class PrecallSetup(Struct):
    ice_servers: list[IceServer]
    max_duration_s: int


class PrecallAnswer(Struct):
    id: str
    sdp: str
    type: Literal["answer"]
    expires_in_s: int


class VideoFigures(Struct):
    frames: int
    width: int | None
    height: int | None
    fps: float | None


class AudioFigures(Struct):
    frames: int
    peak_dbfs: float | None


class PrecallVerdict(Struct):
    """A pre-call check's verdict so far, or its final one (`media/precall.py` makes it)."""

    id: str
    state: Literal["connecting", "connected", "failed", "closed"]
    closed_reason: (
        Literal[
            "deleted", "time_limit", "disconnected", "connection_failed", "shutdown", "abandoned"
        ]
        | None
    )
    elapsed_s: float
    expires_in_s: int
    camera: Literal["checking", "ok", "no_frames", "unknown"]
    microphone: Literal["checking", "ok", "silent", "no_audio", "unknown"]
    connection: Literal["checking", "good", "fair", "poor", "failed", "unknown"]
    path: Literal["direct", "turn", "unknown"]
    rtt_ms: float | None
    loss_pct: float | None
    bitrate_kbps: int | None
    video: VideoFigures
    audio: AudioFigures
    summary: str
