"""What clients send: every REST request body and query string, declared once.

Each struct both decodes and validates (`web/json_io.py` turns a failure into a 422 that names
the field) and is the OpenAPI component of the same name (`web/openapi.py`), so the document
cannot promise what the server refuses. Rules a schema cannot state (a day's end after its
start, a slot on the event's grid, who may name whom) stay in the domain and are written in
the struct's docstring, which becomes the component's description.

`Meta(extra={"expect": ...})` is the phrase a refusal uses ("'days[0].start' must be a time
like 09:30."); fields without one are described by their type and limits.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, get_args
from zoneinfo import available_timezones

from msgspec import UNSET, Meta, Struct, UnsetType

from scheduling.after_chat_rules import MAX_COMMENT, MAX_NOTES, NEXT_STEPS
from scheduling.booking_gap import MAX_GAP_MIN
from scheduling.chat_rules import MAX_TEXT
from scheduling.event_rules import ALLOWED_DURATIONS, MEDIA_MODES
from scheduling.mail_rules import MailKind
from scheduling.model import JoinPolicy
from scheduling.states import Tab
from scheduling.webhook_payloads import EventType

# Every IANA zone this server knows (the `tzdata` package): a component of its own, so the
# document lists exactly the names `ZoneInfo` accepts here.
TimeZoneName = StrEnum(  # type: ignore[misc]
    "TimeZoneName", [(name, name) for name in sorted(available_timezones())]
)
TimeZoneName.__doc__ = "An IANA time zone name, as the server's tz database knows it."

Duration = Literal[10, 15, 20, 30]
assert get_args(Duration) == ALLOWED_DURATIONS, "Duration must list ALLOWED_DURATIONS"
MediaMode = Literal["p2p", "relay"]
assert get_args(MediaMode) == MEDIA_MODES, "MediaMode must list MEDIA_MODES"

Id = Annotated[str, Meta(min_length=1, max_length=100)]
Text = Annotated[str, Meta(max_length=MAX_TEXT)]
# Both engines agree: the pattern needs a non-space character, the length rules out the
# trailing newline that Python's `$` would let through.
ClockTime = Annotated[
    str,
    Meta(
        min_length=5,
        max_length=5,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        examples=["09:00"],
        description="A wall-clock time HH:MM in the event's time zone.",
        extra={"expect": "a time like 09:30"},
    ),
]
Instant = Annotated[
    datetime,
    Meta(
        tz=True,
        examples=["2026-12-01T08:00:00Z"],
        extra={"expect": "an ISO-8601 instant with a time zone, like 2026-11-28T09:30:00Z"},
    ),
]
HttpUrl = Annotated[
    str,
    Meta(
        max_length=500,
        # Spelled out rather than \S: Python's \s also matches \x1c-\x1f and \x85, and
        # JavaScript's (the schema's readers) matches \ufeff, so \S meant two things.
        pattern=r"^(https?://[^\s\x00-\x1f\x7f-\x9f\ufeff]+)?$",
        description="An http(s) link, or empty for none.",
        extra={"expect": "empty or a link starting with https:// or http://"},
    ),
]
# A day at the shortest duration: the most slots one day can hold.
MAX_SLOTS_PER_DAY = 24 * 60 // min(ALLOWED_DURATIONS)
MAX_DAYS = 31


class EventDay(Struct):
    """One day of an event in its own time zone, with the chat lengths (minutes) offered.

    Not in the schema, checked by the server (422): `end` is after `start`.
    """

    date: Annotated[date, Meta(extra={"expect": "a date like 2026-11-28"})]
    start: ClockTime
    end: ClockTime
    durations: Annotated[list[Duration], Meta(min_length=1)]


class QuotaInput(Struct):
    """How many 1-1 slots a company's employees may publish in total at one event."""

    company_id: Id
    slot_quota: Annotated[int, Meta(ge=0, le=10_000)]


class EventInput(Struct, kw_only=True):
    """An event's settings (create or replace).

    Not in the schema, checked by the server (422): no date is listed twice, and a day's `end`
    is after its `start`. Replacing an event keeps days on which employees published slots
    (409), and a quota never drops below what the company already published (409).
    """

    name: Annotated[
        str, Meta(min_length=1, max_length=200, pattern=r"\S", extra={"expect": "a name"})
    ]
    timezone: Annotated[
        TimeZoneName, Meta(extra={"expect": "an IANA time zone name such as Europe/Berlin"})
    ]
    days: Annotated[list[EventDay], Meta(min_length=1, max_length=MAX_DAYS)]
    quotas: Annotated[list[QuotaInput], Meta(max_length=1000)] = []
    employee_requests_allowed: bool = True
    join_opens_before_s: Annotated[
        int,
        Meta(
            ge=0,
            le=3600,
            description="Seconds before a chat its Join button opens.",
            extra={"expect": "0 to 3600 seconds (the Join button opens at most an hour early)"},
        ),
    ] = JoinPolicy().opens_before_s
    join_grace_after_s: Annotated[
        int,
        Meta(
            ge=0,
            le=1800,
            description="Seconds after a chat's end its Join button stays open.",
            extra={"expect": "0 to 1800 seconds (a grace period of at most 30 minutes)"},
        ),
    ] = JoinPolicy().grace_after_s
    support_url: HttpUrl = ""
    media_mode: MediaMode = "p2p"
    min_gap_min: Annotated[
        int,
        Meta(
            ge=0,
            le=MAX_GAP_MIN,
            description="Minutes one participant's chats stay apart (0: back to back is fine).",
            extra={"expect": f"0 to {MAX_GAP_MIN} minutes"},
        ),
    ] = 0


class SlotQuota(Struct):
    """A company's 1-1 slot quota (organizer).

    Not in the schema: it never drops below the slots the company already published (409).
    """

    slot_quota: Annotated[int, Meta(ge=0, le=10_000)]


ListItem = Annotated[
    str,
    Meta(min_length=1, max_length=60, pattern=r"\S", extra={"expect": "a short word or phrase"}),
]


class Profile(Struct):
    """An employee's optional 1-1 profile; the custom question filters nobody."""

    background: Annotated[str, Meta(max_length=1000)] = ""
    experience_level: Annotated[str, Meta(max_length=100)] = ""
    languages: Annotated[list[ListItem], Meta(max_length=20)] = []
    topics: Annotated[list[ListItem], Meta(max_length=20)] = []
    custom_question: Annotated[str, Meta(max_length=500)] = ""


class DayChoice(Struct):
    """One day of an availability edit: one chat length, and the slots (or "all" of them).

    Not in the schema, checked against the event (422): `date` is one of the event's days,
    `duration_min` is offered that day, every slot starts on that day's grid and in the future.
    Published slots of another length, or booked ones, cannot be removed (409).
    """

    date: Annotated[date, Meta(extra={"expect": "a date like 2026-11-28"})]
    duration_min: Duration
    slots: Annotated[
        Annotated[list[Instant], Meta(max_length=MAX_SLOTS_PER_DAY)] | Literal["all"],
        Meta(extra={"expect": 'a list of slot start times, or "all"'}),
    ] = []


class AvailabilityInput(Struct):
    """A draft edit of my availability: days to change and, optionally, my profile."""

    days: Annotated[list[DayChoice], Meta(max_length=MAX_DAYS)] = []
    profile: Profile | None = None


class ChatRequest(Struct):
    """A chat request: name exactly one of `employee_id` or `participant_id`.

    Who may name whom is the caller's role (403 otherwise): a participant requests a chat with
    an employee (`employee_id`); an employee invites a participant (`participant_id`), where the
    event allows it.
    """

    employee_id: Id | UnsetType = UNSET
    participant_id: Id | UnsetType = UNSET
    message: Text = ""
    answer: Text = ""

    # What __post_init__ checks, as the schema says it (merged into the component).
    json_schema_extra: ClassVar[dict[str, Any]] = {
        "oneOf": [{"required": ["employee_id"]}, {"required": ["participant_id"]}]
    }

    def __post_init__(self) -> None:
        if (self.employee_id is UNSET) == (self.participant_id is UNSET):
            raise ValueError(
                "Name either employee_id (to request a chat) or participant_id (to invite), "
                "not both."
                if self.employee_id is not UNSET
                else "Name employee_id (to request a chat) or participant_id (to invite)."
            )


# Each chat action's body; an action's path names the action.
class NoBody(Struct):
    """Nothing to send (an empty object, or no body at all)."""


class Decline(Struct):
    """Declining needs a short message a person can act on, e.g. pointing to a colleague."""

    message: Annotated[Text, Meta(min_length=1, pattern=r"\S", extra={"expect": "a short message"})]


class SlotChoice(Struct):
    """The slot to book or move to: one of the employee's free slots (422 otherwise)."""

    slot_id: Annotated[int, Meta(ge=1, le=2**63 - 1)]


class Cancel(Struct):
    """Why the chat is cancelled (shown to the other person)."""

    reason: Text = ""


class SupportInput(Struct):
    """What the person asks Support, in a sentence (optional: pressing the button is enough)."""

    text: Annotated[str, Meta(max_length=500)] = ""


class SupportAnswer(Struct):
    """The organizer's answer, shown to both people in the chat as a Support message."""

    text: Annotated[
        str, Meta(min_length=1, max_length=2000, pattern=r"\S", extra={"expect": "a message"})
    ]


class PrecallOffer(Struct):
    """The browser's offer, sent once ICE gathering is complete (no trickled candidates).

    Not in the schema: the SDP must be a WebRTC offer with a camera or a microphone the server
    can use (422 `bad_offer`).
    """

    sdp: Annotated[str, Meta(min_length=1, max_length=100_000, pattern=r"\S")]
    type: Literal["offer"]


class DevLogin(Struct):
    """Sign in as a seeded person (dev/demo only)."""

    user_id: Id


# --- after the chat (issue 14) ---------------------------------------------------------------

NextStep = Literal["", "follow_up", "interview", "offer", "not_a_fit"]
assert get_args(NextStep) == NEXT_STEPS, "NextStep must list NEXT_STEPS"
Score = Annotated[int, Meta(ge=1, le=5, extra={"expect": "a whole number from 1 to 5"})]


class NotesInput(Struct):
    """A company's private notes on a participant it met at the event (its employees only).

    Not in the schema: the company must have had a chat with the participant at the event (404).
    """

    notes: Annotated[str, Meta(max_length=MAX_NOTES)] = ""
    rating: Score | None = None
    next_step: NextStep = ""


class NoShowMark(Struct):
    """The employee's word on whether the participant came (once the slot is over)."""

    participant_no_show: bool


class FollowUp(Struct):
    """An invitation to a follow-up chat: a new request from the employee to the participant."""

    message: Text = ""


class FeedbackInput(Struct):
    """The participant's feedback after the call: 1-5 and a sentence."""

    score: Score
    comment: Annotated[str, Meta(max_length=MAX_COMMENT)] = ""


# --- query strings ------------------------------------------------------------------------------


class GridQuery(Struct):
    """Not in the schema, checked against the event (422): `date` is one of its days and
    `duration_min` a length that day offers."""

    date: Annotated[date, Meta(extra={"expect": "a date like 2026-11-28"})]
    duration_min: Duration


class ChatsQuery(Struct):
    event_id: Id | UnsetType = UNSET
    tab: Tab | UnsetType = UNSET


class ScheduleQuery(Struct):
    event_id: Id | UnsetType = UNSET


class QuotaQuery(Struct):
    company_id: Id | UnsetType = UNSET


# --- Webhooks (web/api_webhooks.py) -----------------------------------------------------------

WebhookUrl = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=2000,
        # The same character class as HttpUrl's (Python's and JavaScript's `\S` differ).
        pattern=r"^https?://[^\s\x00-\x1f\x7f-\x9f\ufeff]+$",
        description="Where Duet POSTs the events: an http(s) URL on a public address.",
        extra={"expect": "a link starting with https:// (or http://)"},
    ),
]
WebhookEventTypes = Annotated[
    list[EventType],
    Meta(min_length=1, max_length=len(EventType), extra={"expect": "a list of event types"}),
]


class WebhookEndpointInput(Struct):
    """A new webhook endpoint of the event. The URL's host must resolve to public addresses
    only (422 url_refused), unless the operator set `webhook_allow_private`."""

    url: WebhookUrl
    event_types: WebhookEventTypes


class WebhookEndpointUpdate(Struct):
    """Turn an endpoint on or off, and choose its events again."""

    enabled: bool
    event_types: WebhookEventTypes


class DeliveriesQuery(Struct):
    status: Literal["pending", "delivered", "failed"] | UnsetType = UNSET


class OffersQuery(Struct):
    """Search, filters and a page of the offers list (`GET .../offers`).

    `q` matches every word (case-insensitive) in a person's name, headline, company or topics;
    `language`, `level` and `topic` (each may repeat) keep people with any of the values named
    (case-insensitive), and the filters combine with AND. Not in the schema, checked against the
    event (422): `free_on` is one of its days. Without `limit`, everyone who matches is listed.
    """

    q: Annotated[str, Meta(max_length=200, extra={"expect": "text of at most 200 characters"})] = ""
    language: Annotated[list[ListItem], Meta(max_length=20)] = []
    level: Annotated[list[ListItem], Meta(max_length=20)] = []
    topic: Annotated[list[ListItem], Meta(max_length=20)] = []
    free_on: Annotated[date, Meta(extra={"expect": "a date like 2026-11-28"})] | UnsetType = UNSET
    offset: Annotated[int, Meta(ge=0, le=1_000_000)] = 0
    limit: Annotated[int, Meta(ge=1, le=500)] | UnsetType = UNSET


class TimeZoneSetting(Struct):
    """A person's own time zone, or null to follow the browser's (the default)."""

    time_zone: (
        Annotated[
            TimeZoneName, Meta(extra={"expect": "an IANA time zone name such as Asia/Kolkata"})
        ]
        | None
    ) = None


class NotificationChoice(Struct):
    """One kind of email, turned on or off."""

    kind: MailKind
    enabled: bool


class NotificationChoices(Struct):
    """The kinds of email to turn on or off; a kind not listed keeps its setting."""

    kinds: Annotated[list[NotificationChoice], Meta(max_length=len(MailKind))]
