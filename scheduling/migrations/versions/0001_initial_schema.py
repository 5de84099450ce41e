"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-28 03:58:04.299137
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Generated from scheduling/schema.py by alembic autogenerate, then reviewed.
    op.create_table(
        "companies",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column(
            "employee_requests_allowed", sa.Boolean(), server_default=sa.true(), nullable=False
        ),
        sa.Column("join_opens_before_s", sa.Integer(), server_default="300", nullable=False),
        sa.Column("join_grace_after_s", sa.Integer(), server_default="120", nullable=False),
        sa.Column("support_url", sa.String(length=500), server_default="", nullable=False),
        sa.Column("media_mode", sa.String(length=16), server_default="p2p", nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=8), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "event_companies",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("slot_quota", sa.Integer(), nullable=False),
        sa.CheckConstraint("slot_quota >= 0", name=op.f("ck_event_companies_quota_not_negative")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_event_companies_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_companies_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "company_id", name=op.f("pk_event_companies")),
    )
    op.create_table(
        "event_days",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("start_time", sa.Time(), nullable=False),
        sa.Column("end_time", sa.Time(), nullable=False),
        sa.Column("durations", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_days_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "day", name=op.f("pk_event_days")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=True),
        sa.Column("headline", sa.String(length=200), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_users_company_id_companies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "availabilities",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("background", sa.String(length=1000), server_default="", nullable=False),
        sa.Column("experience_level", sa.String(length=100), server_default="", nullable=False),
        sa.Column("languages", sa.String(length=500), server_default="[]", nullable=False),
        sa.Column("topics", sa.String(length=1000), server_default="[]", nullable=False),
        sa.Column("custom_question", sa.String(length=500), server_default="", nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_availabilities_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["users.id"], name=op.f("fk_availabilities_employee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_availabilities_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "employee_id", name=op.f("pk_availabilities")),
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("published", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_slots_slot_positive_length")),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_slots_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["users.id"], name=op.f("fk_slots_employee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_slots_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slots")),
        sa.UniqueConstraint(
            "employee_id", "starts_at", name=op.f("uq_slots_employee_id_starts_at")
        ),
    )
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_slots_event_company", ["event_id", "company_id", "published"], unique=False
        )
        batch_op.create_index("ix_slots_event_employee", ["event_id", "employee_id"], unique=False)

    op.create_table(
        "availability_days",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id", "employee_id"],
            ["availabilities.event_id", "availabilities.employee_id"],
            name=op.f("fk_availability_days_event_id_availabilities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "event_id", "employee_id", "day", name=op.f("pk_availability_days")
        ),
    )
    op.create_table(
        "chats",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("employee_id", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("initiator", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", sa.DateTime(), nullable=True),
        sa.Column("ends_at", sa.DateTime(), nullable=True),
        sa.Column("request_message", sa.String(length=2000), server_default="", nullable=False),
        sa.Column("answer", sa.String(length=2000), server_default="", nullable=False),
        sa.Column("decline_message", sa.String(length=2000), server_default="", nullable=False),
        sa.Column("cancel_reason", sa.String(length=2000), server_default="", nullable=False),
        sa.Column("no_show_side", sa.String(length=16), server_default="", nullable=False),
        sa.Column("ics_sequence", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_chats_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["users.id"], name=op.f("fk_chats_employee_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_chats_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["users.id"], name=op.f("fk_chats_participant_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"], ["slots.id"], name=op.f("fk_chats_slot_id_slots"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats")),
        sa.UniqueConstraint("slot_id", name=op.f("uq_chats_slot_id")),
    )
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chats_employee", ["event_id", "employee_id", "state"], unique=False
        )
        batch_op.create_index("ix_chats_participant", ["participant_id", "state"], unique=False)
        batch_op.create_index(
            "uq_chats_open_pair",
            ["event_id", "employee_id", "participant_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('requested', 'approved', 'confirmed')"),
            postgresql_where=sa.text("state IN ('requested', 'approved', 'confirmed')"),
        )

    op.create_table(
        "attendance",
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("first_joined_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_attendance_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name=op.f("pk_attendance")),
    )
    op.create_table(
        "chat_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_side", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=2000), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_chat_history_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_history")),
    )
    with op.batch_alter_table("chat_history", schema=None) as batch_op:
        batch_op.create_index("ix_chat_history_chat", ["chat_id", "id"], unique=False)

    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender_id", sa.String(length=64), nullable=False),
        sa.Column("client_msg_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_chat_messages_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint(
            "chat_id",
            "sender_id",
            "client_msg_id",
            name=op.f("uq_chat_messages_chat_id_sender_id_client_msg_id"),
        ),
        sa.UniqueConstraint("chat_id", "seq", name=op.f("uq_chat_messages_chat_id_seq")),
    )


def downgrade() -> None:
    # Generated from scheduling/schema.py by alembic autogenerate, then reviewed.
    op.drop_table("chat_messages")
    with op.batch_alter_table("chat_history", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_history_chat")

    op.drop_table("chat_history")
    op.drop_table("attendance")
    with op.batch_alter_table("chats", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_chats_open_pair",
            sqlite_where=sa.text("state IN ('requested', 'approved', 'confirmed')"),
            postgresql_where=sa.text("state IN ('requested', 'approved', 'confirmed')"),
        )
        batch_op.drop_index("ix_chats_participant")
        batch_op.drop_index("ix_chats_employee")

    op.drop_table("chats")
    op.drop_table("availability_days")
    with op.batch_alter_table("slots", schema=None) as batch_op:
        batch_op.drop_index("ix_slots_event_employee")
        batch_op.drop_index("ix_slots_event_company")

    op.drop_table("slots")
    op.drop_table("availabilities")
    op.drop_table("users")
    op.drop_table("event_days")
    op.drop_table("event_companies")
    op.drop_table("idempotency_keys")
    op.drop_table("events")
    op.drop_table("companies")
