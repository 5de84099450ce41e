"""Tables of Duet, as SQLAlchemy Core metadata; the migrations in `migrations/` create them.

Integrity rules that must hold under any concurrency live in the database, not only in code:
unique keys, foreign keys and (in the migration) triggers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC so comparisons in SQL (triggers, ranges) are plain and exact."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing a naive datetime: Duet stores only aware instants")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


companies = sa.Table(
    "companies",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), nullable=True),
    sa.Column("headline", sa.String(200), nullable=False, server_default=""),
    # --- issue 14, each person's own time zone (migration 0005) ---
    # The IANA zone a person chose for showing times; NULL follows their browser's zone (and,
    # where no browser is asking, such as an email, the event's: scheduling/store_users.py).
    sa.Column("time_zone", sa.String(64), nullable=True),
    # The JWT's `email` claim, kept for mail (migration 0006); "" when the platform sent none.
    sa.Column("email", sa.String(320), nullable=False, server_default=""),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("employee_requests_allowed", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("join_opens_before_s", sa.Integer, nullable=False, server_default="300"),
    sa.Column("join_grace_after_s", sa.Integer, nullable=False, server_default="120"),
    sa.Column("support_url", sa.String(500), nullable=False, server_default=""),
    sa.Column("media_mode", sa.String(16), nullable=False, server_default="p2p"),
    # Minutes one participant's booked chats of this event stay apart (migration 0004).
    sa.Column("min_gap_min", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

event_days = sa.Table(
    "event_days",
    metadata,
    sa.Column(
        "event_id", sa.String(64), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("start_time", sa.Time, nullable=False),
    sa.Column("end_time", sa.Time, nullable=False),
    sa.Column("durations", sa.String(100), nullable=False),  # "10,15,20,30"
)

event_companies = sa.Table(
    "event_companies",
    metadata,
    sa.Column(
        "event_id", sa.String(64), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("slot_quota", sa.Integer, nullable=False),
    sa.CheckConstraint("slot_quota >= 0", name="quota_not_negative"),
)

availabilities = sa.Table(
    "availabilities",
    metadata,
    sa.Column(
        "event_id", sa.String(64), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("employee_id", sa.String(64), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
    sa.Column("background", sa.String(1000), nullable=False, server_default=""),
    sa.Column("experience_level", sa.String(100), nullable=False, server_default=""),
    sa.Column("languages", sa.String(500), nullable=False, server_default="[]"),
    sa.Column("topics", sa.String(1000), nullable=False, server_default="[]"),
    sa.Column("custom_question", sa.String(500), nullable=False, server_default=""),
    sa.Column("published_at", UTCDateTime, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

availability_days = sa.Table(
    "availability_days",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("employee_id", sa.String(64), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("duration_min", sa.Integer, nullable=False),
    sa.ForeignKeyConstraint(
        ["event_id", "employee_id"],
        ["availabilities.event_id", "availabilities.employee_id"],
        ondelete="CASCADE",
    ),
)

slots = sa.Table(
    "slots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "event_id", sa.String(64), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("employee_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("employee_id", "starts_at"),
    sa.CheckConstraint("ends_at > starts_at", name="slot_positive_length"),
    # One employee's slots, and the offers' counts by employee and day read from the index
    # alone (migration 0009).
    sa.Index("ix_slots_event_employee", "event_id", "employee_id", "day", "published", "starts_at"),
    sa.Index("ix_slots_event_company", "event_id", "company_id", "published"),
)

chats = sa.Table(
    "chats",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "event_id", sa.String(64), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("employee_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("participant_id", sa.String(64), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("initiator", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    # Set only while the chat holds its slot: UNIQUE means one slot, one chat, under any race.
    sa.Column(
        "slot_id",
        sa.Integer,
        sa.ForeignKey("slots.id", ondelete="RESTRICT"),
        nullable=True,
        unique=True,
    ),
    sa.Column("starts_at", UTCDateTime, nullable=True),
    sa.Column("ends_at", UTCDateTime, nullable=True),
    sa.Column("request_message", sa.String(2000), nullable=False, server_default=""),
    sa.Column("answer", sa.String(2000), nullable=False, server_default=""),
    sa.Column("decline_message", sa.String(2000), nullable=False, server_default=""),
    sa.Column("cancel_reason", sa.String(2000), nullable=False, server_default=""),
    sa.Column("no_show_side", sa.String(16), nullable=False, server_default=""),
    sa.Column("ics_sequence", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index("ix_chats_employee", "event_id", "employee_id", "state"),
    sa.Index("ix_chats_participant", "participant_id", "state"),
    # One open request per pair: asking the same person twice is a mistake, not a feature.
    sa.Index(
        "uq_chats_open_pair",
        "event_id",
        "employee_id",
        "participant_id",
        unique=True,
        sqlite_where=sa.text("state IN ('requested', 'approved', 'confirmed')"),
        postgresql_where=sa.text("state IN ('requested', 'approved', 'confirmed')"),
    ),
)

chat_history = sa.Table(
    "chat_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "chat_id", sa.String(64), sa.ForeignKey("chats.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor_id", sa.String(64), nullable=False),
    sa.Column("actor_side", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("from_state", sa.String(16), nullable=True),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(2000), nullable=False, server_default=""),
    sa.Index("ix_chat_history_chat", "chat_id", "id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("body_hash", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "chat_id", sa.String(64), sa.ForeignKey("chats.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("sender_id", sa.String(64), nullable=False),
    sa.Column("client_msg_id", sa.String(64), nullable=False),
    sa.Column("text", sa.String(2000), nullable=False),
    sa.Column("sent_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("chat_id", "seq"),
    sa.UniqueConstraint("chat_id", "sender_id", "client_msg_id"),
)

attendance = sa.Table(
    "attendance",
    metadata,
    sa.Column(
        "chat_id", sa.String(64), sa.ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("first_joined_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
)

# --- Webhooks to the host platform: a transactional outbox (scheduling/store_webhooks.py) ------
# An endpoint belongs to one event; an event row is written in the transaction of the change
# that caused it, with one delivery row per endpoint that wants it; the delivery worker
# (web/webhook_worker.py) claims deliveries with a lease and sends them in order per chat.

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column(
        "event_id", sa.String(64), sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("url", sa.String(2000), nullable=False),
    # whsec_<base64>: shown once when created or rotated; the worker signs with it.
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("event_types", sa.String(1000), nullable=False),  # "chat.confirmed,room.opened"
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_webhook_endpoints_event", "event_id"),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    # Its order is the order of delivery per chat and endpoint.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # The `webhook-id` header: the same on every attempt and replay, for receivers' de-duplication.
    sa.Column("message_id", sa.String(64), nullable=False, unique=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("chat_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the exact JSON body that is signed and sent
    sa.Column("created_at", UTCDateTime, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "endpoint_id",
        sa.String(64),
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column(
        "event_seq",
        sa.Integer,
        sa.ForeignKey("webhook_events.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("chat_id", sa.String(64), nullable=False),  # the event's, for the order per chat
    sa.Column("status", sa.String(16), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    # Retries stop 24 h after this (its creation, or the last manual retry).
    sa.Column("first_due_at", UTCDateTime, nullable=False),
    # A claim: which node sends it now, until when (a killed node's claim runs out).
    sa.Column("lease_token", sa.String(64), nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("last_attempt_at", UTCDateTime, nullable=True),
    sa.Column("last_status", sa.Integer, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("endpoint_id", "event_seq"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_order", "endpoint_id", "chat_id", "status", "event_seq"),
)

# A room's `room.opened` is sent once: by the transaction that inserts this row (two nodes
# writing the two people's first joins in the same second both saw no attendance yet;
# rooms/attendance.py). Migration 0008.
rooms_opened = sa.Table(
    "rooms_opened",
    metadata,
    sa.Column(
        "chat_id", sa.String(64), sa.ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("opened_at", UTCDateTime, nullable=False),
)

# --- Around the call (issue 14, migration 0004): résumés, notes, marks, feedback ---------------

# One PDF per participant, in the database so every node serves it.
resumes = sa.Table(
    "resumes",
    metadata,
    sa.Column(
        "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("pages", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("uploaded_at", UTCDateTime, nullable=False),
)

# A company's private notes on a participant it met at an event (its employees only).
participant_notes = sa.Table(
    "participant_notes",
    metadata,
    sa.Column(
        "event_id", sa.String(64), sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("company_id", sa.String(64), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("participant_id", sa.String(64), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("notes", sa.String(5000), nullable=False, server_default=""),
    sa.Column("rating", sa.Integer, nullable=True),
    sa.Column("next_step", sa.String(32), nullable=False, server_default=""),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("rating IS NULL OR rating BETWEEN 1 AND 5", name="notes_rating_1_5"),
)

# The employee's own word that the participant did not come (beside the automatic settling).
chat_marks = sa.Table(
    "chat_marks",
    metadata,
    sa.Column(
        "chat_id", sa.String(64), sa.ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("participant_no_show", sa.Boolean, nullable=False),
    sa.Column("marked_by", sa.String(64), nullable=False),
    sa.Column("marked_at", UTCDateTime, nullable=False),
)

# The participant's short feedback after the call; organizers see it only per company.
chat_feedback = sa.Table(
    "chat_feedback",
    metadata,
    sa.Column(
        "chat_id", sa.String(64), sa.ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("comment", sa.String(280), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("score BETWEEN 1 AND 5", name="feedback_score_1_5"),
)

# --- Mail (issue 14, migration 0006): the outbox and each person's opt-outs. ---------------

# The mail outbox: one row per email to one person, written in the transaction of the change
# that causes it (or, for reminders, by the worker's round with a unique `key`), and sent by
# notifications/worker.py. `payload` is a JSON snapshot of what the mail says, so a retry sends
# the same mail; `message_id` is fixed at insert. A lease (`lease_owner`, `lease_until`) lets one
# node send each row; `next_attempt_at` spaces the retries.
mail_deliveries = sa.Table(
    "mail_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("chat_id", sa.String(64), nullable=True),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("to_address", sa.String(320), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.Index("ix_mail_deliveries_due", "status", "next_attempt_at"),
    sa.Index("ix_mail_deliveries_user", "user_id", "id"),
)

# The kinds of email a person turned off (no row: on).
mail_opt_outs = sa.Table(
    "mail_opt_outs",
    metadata,
    sa.Column(
        "user_id", sa.String(64), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("kind", sa.String(32), primary_key=True),
)

# --- the live fair: call quality summaries and Support requests (issue 13) -------------------

call_quality = sa.Table(
    "call_quality",
    metadata,
    sa.Column(
        "chat_id", sa.String(64), sa.ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("user_id", sa.String(64), primary_key=True),
    sa.Column("samples", sa.Integer, nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    # rooms/call_quality.py `Summary.as_dict`: medians and maxima, never the samples
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

support_requests = sa.Table(
    "support_requests",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "chat_id", sa.String(64), sa.ForeignKey("chats.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("user_id", sa.String(64), nullable=False),
    sa.Column("text", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("answered_at", UTCDateTime, nullable=True),
    sa.Column("answered_by", sa.String(64), nullable=True),
    sa.Index("ix_support_requests_chat", "chat_id", "created_at"),
)
