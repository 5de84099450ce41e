"""What the API answers: every REST response body, declared once.

`web/views.py` builds these from domain records and `web/json_io.py` encodes them, so an
answer has exactly the fields its OpenAPI component (`web/openapi.py`) promises. Instants are
UTC and encode as ISO-8601 with a Z.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from scheduling.mail_rules import MailKind
from scheduling.model import ChatState, Role
from scheduling.states import Action, Tab
from scheduling.webhook_payloads import EventType
from web.request_bodies import EventDay, MediaMode, NextStep, Profile, TimeZoneName

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
    min_gap_min: int


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
    free_days: list[date] = []  # the event's days (its own zone) with a free slot


class OfferFacets(Struct):
    """What the filters can choose from: the values the whole list has, each once."""

    languages: list[str]
    levels: list[str]
    topics: list[str]
    days: list[date]


class OfferList(Struct):
    """A page of the offers that match the query (all of them without one), company by company.

    `total` counts every match; the next page starts at `offset` plus the offers listed."""

    offers: list[Offer]
    total: int = 0
    offset: int = 0
    facets: OfferFacets | None = None


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
    """The signed-in person and the server's clock; `time_zone` is their own setting (null:
    times follow the browser's zone)."""

    now: Instant
    time_zone: str | None = None


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
    # The participant's résumé, for employees of the chat's company when there is one.
    resume_url: str | None = None


class ChatList(Struct):
    now: Instant
    chats: list[Chat]


class Resume(Struct):
    """A participant's résumé: what was stored, and where to download it."""

    filename: str
    size: int
    pages: int
    uploaded_at: Instant
    url: str


class ParticipantNotes(Struct):
    """A company's notes on one participant (visible to that company's employees only)."""

    participant_id: str
    participant_name: str
    notes: str
    rating: int | None
    next_step: NextStep
    updated_by: str
    updated_at: Instant


class ChatMark(Struct):
    """An employee's no-show mark on a chat whose slot has passed."""

    chat_id: str
    participant_no_show: bool
    marked_by: str
    marked_at: Instant


class CompanyNotes(Struct):
    """My company's notes and no-show marks for one event (the Completed tab)."""

    event_id: str
    company_id: str
    notes: list[ParticipantNotes]
    marks: list[ChatMark]


class Feedback(Struct):
    chat_id: str
    score: int
    comment: str
    created_at: Instant


class CompanyFeedback(Struct):
    """Feedback on one company, summed up: `scores[i]` people gave i+1; `comments` only once
    enough people answered to keep them anonymous, in alphabetical order."""

    company_id: str
    company_name: str
    responses: int
    average: float | None
    scores: list[int]
    comments: list[str]


class FeedbackSummary(Struct):
    event_id: str
    min_responses_for_comments: int
    companies: list[CompanyFeedback]


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


# --- Webhooks (web/api_webhooks.py) -----------------------------------------------------------


class WebhookEndpoint(Struct):
    id: str
    event_id: str
    url: str
    event_types: list[EventType]
    enabled: bool
    created_at: Instant


class WebhookEndpointCreated(Struct):
    """The new endpoint and its signing secret: shown this once, keep it."""

    endpoint: WebhookEndpoint
    secret: str


class WebhookEndpointList(Struct):
    endpoints: list[WebhookEndpoint]


class WebhookSecret(Struct):
    """A rotated secret: shown this once; deliveries from now on are signed with it."""

    endpoint_id: str
    secret: str


class WebhookDelivery(Struct):
    id: int
    endpoint_id: str
    webhook_id: str
    type: EventType
    chat_id: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: Instant
    last_attempt_at: Instant | None
    last_status: int | None
    last_error: str
    delivered_at: Instant | None
    created_at: Instant


class WebhookDeliveryList(Struct):
    deliveries: list[WebhookDelivery]


class NotificationKind(Struct):
    kind: MailKind
    label: str
    enabled: bool


class NotificationSettings(Struct):
    """Which emails I get, and the address they go to: the host platform's `email` claim
    (empty: the platform sent none, so Duet sends no email)."""

    email: str
    kinds: list[NotificationKind]


class MailSummary(Struct):
    """One mail the demo's catch-all wrote instead of sending it."""

    id: str
    kind: str
    to: str
    subject: str
    date: str
    calendar: str  # the attached invitation's METHOD ("REQUEST", "CANCEL") or ""
    text: str


class MailList(Struct):
    """The demo's mail outbox, newest first (`directory`: where the .eml files are)."""

    directory: str
    mails: list[MailSummary]
