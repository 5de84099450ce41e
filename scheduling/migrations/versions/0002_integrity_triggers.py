"""Integrity triggers: the rules that a UNIQUE key alone cannot express.

Revision ID: 0002
Revises: 0001

Each rule is also checked in code first, for a friendly message; these triggers are the backstop
that holds under any concurrency or a bug in that code. The RAISE messages are stable codes that
`scheduling.store_integrity.from_integrity_error` maps to problem+json answers.

- participant_overlap: a participant never holds two chats that overlap in time.
- employee_slot_overlap: an employee's slots never overlap (one duration per day keeps the grid).
- quota_exceeded: a company never publishes more slots than its 1-1 quota for the event.
- no_free_slot: an employee never has more approved-or-booked chats than published slots.
- slot_in_use: a published slot that an approved chat may still need is not removed.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = {
    "trg_chats_participant_overlap_upd": """
CREATE TRIGGER trg_chats_participant_overlap_upd
BEFORE UPDATE OF slot_id, starts_at, ends_at ON chats
WHEN NEW.slot_id IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'participant_overlap') WHERE EXISTS (
    SELECT 1 FROM chats c
    WHERE c.participant_id = NEW.participant_id AND c.id <> NEW.id AND c.slot_id IS NOT NULL
      AND c.starts_at < NEW.ends_at AND NEW.starts_at < c.ends_at);
END""",
    "trg_chats_participant_overlap_ins": """
CREATE TRIGGER trg_chats_participant_overlap_ins
BEFORE INSERT ON chats
WHEN NEW.slot_id IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'participant_overlap') WHERE EXISTS (
    SELECT 1 FROM chats c
    WHERE c.participant_id = NEW.participant_id AND c.slot_id IS NOT NULL
      AND c.starts_at < NEW.ends_at AND NEW.starts_at < c.ends_at);
END""",
    "trg_slots_employee_overlap": """
CREATE TRIGGER trg_slots_employee_overlap
BEFORE INSERT ON slots
BEGIN
  SELECT RAISE(ABORT, 'employee_slot_overlap') WHERE EXISTS (
    SELECT 1 FROM slots s
    WHERE s.employee_id = NEW.employee_id
      AND s.starts_at < NEW.ends_at AND NEW.starts_at < s.ends_at);
END""",
    "trg_slots_quota_ins": """
CREATE TRIGGER trg_slots_quota_ins
BEFORE INSERT ON slots
WHEN NEW.published
BEGIN
  SELECT RAISE(ABORT, 'quota_exceeded') WHERE
    (SELECT count(*) FROM slots s
      WHERE s.event_id = NEW.event_id AND s.company_id = NEW.company_id AND s.published) + 1
    > coalesce((SELECT q.slot_quota FROM event_companies q
      WHERE q.event_id = NEW.event_id AND q.company_id = NEW.company_id), 0);
END""",
    "trg_slots_quota_upd": """
CREATE TRIGGER trg_slots_quota_upd
BEFORE UPDATE OF published ON slots
WHEN NEW.published AND NOT OLD.published
BEGIN
  SELECT RAISE(ABORT, 'quota_exceeded') WHERE
    (SELECT count(*) FROM slots s
      WHERE s.event_id = NEW.event_id AND s.company_id = NEW.company_id AND s.published) + 1
    > coalesce((SELECT q.slot_quota FROM event_companies q
      WHERE q.event_id = NEW.event_id AND q.company_id = NEW.company_id), 0);
END""",
    "trg_chats_approve_capacity": """
CREATE TRIGGER trg_chats_approve_capacity
BEFORE UPDATE OF state ON chats
WHEN NEW.state = 'approved' AND OLD.state <> 'approved'
BEGIN
  SELECT RAISE(ABORT, 'no_free_slot') WHERE
    (SELECT count(*) FROM chats c
      WHERE c.event_id = NEW.event_id AND c.employee_id = NEW.employee_id
        AND (c.state = 'approved' OR c.slot_id IS NOT NULL)) + 1
    > (SELECT count(*) FROM slots s
      WHERE s.event_id = NEW.event_id AND s.employee_id = NEW.employee_id AND s.published);
END""",
    "trg_slots_delete_capacity": """
CREATE TRIGGER trg_slots_delete_capacity
BEFORE DELETE ON slots
WHEN OLD.published
BEGIN
  SELECT RAISE(ABORT, 'slot_in_use') WHERE
    (SELECT count(*) FROM chats c
      WHERE c.event_id = OLD.event_id AND c.employee_id = OLD.employee_id
        AND (c.state = 'approved' OR c.slot_id IS NOT NULL))
    > (SELECT count(*) FROM slots s
      WHERE s.event_id = OLD.event_id AND s.employee_id = OLD.employee_id AND s.published) - 1;
END""",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect != "sqlite":
        raise NotImplementedError(
            f"integrity triggers exist for SQLite only so far; {dialect} arrives with its backend"
        )
    for ddl in _SQLITE_TRIGGERS.values():
        op.execute(ddl)


def downgrade() -> None:
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
