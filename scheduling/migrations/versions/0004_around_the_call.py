"""Around the call: résumés, a company's notes, no-show marks, feedback, the minimum gap.

Revision ID: 0004
Revises: 0003

- `resumes`: one PDF per participant (bytea / BLOB), so every node serves it.
- `participant_notes`: a company's private notes, 1-5 rating and next step per participant.
- `chat_marks`: an employee's no-show mark on a chat whose slot has passed.
- `chat_feedback`: the participant's 1-5 score and sentence after the call.
- `events.min_gap_min` and the rule `participant_gap`: one participant's booked chats of an
  event start at least that many minutes after the previous one ends (0: no gap needed).
  Like the rules of 0002 it is a SQLite trigger and, on PostgreSQL, a plpgsql trigger that first
  locks the participant's `users` row (FOR NO KEY UPDATE), so of two bookings racing into slots
  too close together the second waits, then sees the first and is refused. Overlapping chats
  are left to `participant_overlap`, so each refusal keeps its own sentence.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from scheduling.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Seconds since the epoch of a stored instant (SQLite keeps them as text).
_EPOCH = "CAST(strftime('%s', {}) AS INTEGER)"


def _sqlite_gap_trigger(name: str, timing: str, self_clause: str) -> str:
    new_start, new_end = _EPOCH.format("NEW.starts_at"), _EPOCH.format("NEW.ends_at")
    c_start, c_end = _EPOCH.format("c.starts_at"), _EPOCH.format("c.ends_at")
    return f"""
CREATE TRIGGER {name}
{timing}
WHEN NEW.slot_id IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'participant_gap') WHERE EXISTS (
    SELECT 1 FROM chats c JOIN events e ON e.id = NEW.event_id
    WHERE e.min_gap_min > 0
      AND c.participant_id = NEW.participant_id AND c.event_id = NEW.event_id{self_clause}
      AND c.slot_id IS NOT NULL
      AND NOT (c.starts_at < NEW.ends_at AND NEW.starts_at < c.ends_at)
      AND {c_start} < {new_end} + e.min_gap_min * 60
      AND {new_start} < {c_end} + e.min_gap_min * 60);
END"""


_SQLITE_TRIGGERS = {
    "trg_chats_participant_gap_upd": _sqlite_gap_trigger(
        "trg_chats_participant_gap_upd",
        "BEFORE UPDATE OF slot_id, starts_at, ends_at ON chats",
        " AND c.id <> NEW.id",
    ),
    "trg_chats_participant_gap_ins": _sqlite_gap_trigger(
        "trg_chats_participant_gap_ins", "BEFORE INSERT ON chats", ""
    ),
}

_POSTGRES_DDL = (
    """
CREATE FUNCTION duet_chats_participant_gap() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  gap integer;
BEGIN
  SELECT e.min_gap_min INTO gap FROM events e WHERE e.id = NEW.event_id;
  IF coalesce(gap, 0) <= 0 OR NEW.starts_at IS NULL OR NEW.ends_at IS NULL THEN
    RETURN NEW;
  END IF;
  PERFORM 1 FROM users u WHERE u.id = NEW.participant_id FOR NO KEY UPDATE;
  IF EXISTS (
    SELECT 1 FROM chats c
    WHERE c.participant_id = NEW.participant_id AND c.event_id = NEW.event_id
      AND c.id <> NEW.id AND c.slot_id IS NOT NULL
      AND NOT (c.starts_at < NEW.ends_at AND NEW.starts_at < c.ends_at)
      AND c.starts_at < NEW.ends_at + make_interval(mins => gap)
      AND NEW.starts_at < c.ends_at + make_interval(mins => gap)
  ) THEN
    RAISE EXCEPTION 'participant_gap'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'participant_gap';
  END IF;
  RETURN NEW;
END $$""",
    """
CREATE TRIGGER trg_chats_participant_gap
  BEFORE INSERT OR UPDATE OF slot_id, starts_at, ends_at ON chats
  FOR EACH ROW WHEN (NEW.slot_id IS NOT NULL) EXECUTE FUNCTION duet_chats_participant_gap()""",
)

_POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS trg_chats_participant_gap ON chats",
    "DROP FUNCTION IF EXISTS duet_chats_participant_gap()",
)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("min_gap_min", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "resumes",
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_resumes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_resumes")),
    )
    op.create_table(
        "participant_notes",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("company_id", sa.String(length=64), nullable=False),
        sa.Column("participant_id", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.String(length=5000), server_default="", nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("next_step", sa.String(length=32), server_default="", nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "rating IS NULL OR rating BETWEEN 1 AND 5",
            name=op.f("ck_participant_notes_notes_rating_1_5"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_participant_notes_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_participant_notes_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["users.id"],
            name=op.f("fk_participant_notes_participant_id_users"),
        ),
        sa.PrimaryKeyConstraint(
            "event_id", "company_id", "participant_id", name=op.f("pk_participant_notes")
        ),
    )
    op.create_table(
        "chat_marks",
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("participant_no_show", sa.Boolean(), nullable=False),
        sa.Column("marked_by", sa.String(length=64), nullable=False),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_marks_chat_id_chats"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chat_marks")),
    )
    op.create_table(
        "chat_feedback",
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=280), server_default="", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "score BETWEEN 1 AND 5", name=op.f("ck_chat_feedback_feedback_score_1_5")
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["chats.id"],
            name=op.f("fk_chat_feedback_chat_id_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("chat_id", name=op.f("pk_chat_feedback")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for ddl in _SQLITE_TRIGGERS.values():
            op.execute(ddl)
    elif dialect == "postgresql":
        for ddl in _POSTGRES_DDL:
            op.execute(ddl)
    else:
        raise NotImplementedError(f"no integrity rules written for {dialect}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for ddl in _POSTGRES_DROP:
            op.execute(ddl)
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in ("chat_feedback", "chat_marks", "participant_notes", "resumes"):
        op.drop_table(table)
    with op.batch_alter_table("events") as batch:
        batch.drop_column("min_gap_min")
