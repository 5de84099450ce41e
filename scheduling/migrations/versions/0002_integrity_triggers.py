"""Integrity triggers: the rules that a UNIQUE key alone cannot express.

Revision ID: 0002
Revises: 0001

Each rule is also checked in code first, for a friendly message; these triggers are the backstop
that holds under any concurrency or a bug in that code. The RAISE messages (and on PostgreSQL the
constraint names) are stable codes that `scheduling.store_integrity.from_integrity_error` maps to
problem+json answers.

SQLite runs one writer at a time, so a trigger that counts sees every committed row. PostgreSQL
runs writers side by side under READ COMMITTED, so each rule there is one that holds whatever
the concurrency: the two overlap rules are exclusion constraints (btree_gist), and the counting
triggers first lock the row that guards their rule (the company's quota row, the employee's user
row) with FOR NO KEY UPDATE; a second writer waits there, and its count, taken by a new
statement after the first writer committed, sees that writer's rows (docs/architecture.md).

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


# The same rules for PostgreSQL. A missing time never overlaps (as in SQLite's comparisons; a
# tsrange with a NULL bound would be unbounded). FOR NO KEY UPDATE (not FOR UPDATE) leaves foreign-key checks
# (FOR KEY SHARE) on the locked row free: inserting a chat for an employee never waits on it.
_POSTGRES_DDL = (
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    """
ALTER TABLE chats ADD CONSTRAINT participant_overlap
  EXCLUDE USING gist (participant_id WITH =, tsrange(starts_at, ends_at) WITH &&)
  WHERE (slot_id IS NOT NULL AND starts_at IS NOT NULL AND ends_at IS NOT NULL)""",
    """
ALTER TABLE slots ADD CONSTRAINT employee_slot_overlap
  EXCLUDE USING gist (employee_id WITH =, tsrange(starts_at, ends_at) WITH &&)""",
    """
CREATE FUNCTION duet_slots_quota() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  quota integer;
  used integer;
BEGIN
  SELECT q.slot_quota INTO quota FROM event_companies q
    WHERE q.event_id = NEW.event_id AND q.company_id = NEW.company_id FOR NO KEY UPDATE;
  SELECT count(*) INTO used FROM slots s
    WHERE s.event_id = NEW.event_id AND s.company_id = NEW.company_id AND s.published;
  IF used + 1 > coalesce(quota, 0) THEN
    RAISE EXCEPTION 'quota_exceeded'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'quota_exceeded';
  END IF;
  RETURN NEW;
END $$""",
    """
CREATE TRIGGER trg_slots_quota_ins BEFORE INSERT ON slots
  FOR EACH ROW WHEN (NEW.published) EXECUTE FUNCTION duet_slots_quota()""",
    """
CREATE TRIGGER trg_slots_quota_upd BEFORE UPDATE OF published ON slots
  FOR EACH ROW WHEN (NEW.published AND NOT OLD.published) EXECUTE FUNCTION duet_slots_quota()""",
    """
CREATE FUNCTION duet_chats_approve_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  promised integer;
  offered integer;
BEGIN
  PERFORM 1 FROM users u WHERE u.id = NEW.employee_id FOR NO KEY UPDATE;
  SELECT count(*) INTO promised FROM chats c
    WHERE c.event_id = NEW.event_id AND c.employee_id = NEW.employee_id
      AND (c.state = 'approved' OR c.slot_id IS NOT NULL);
  SELECT count(*) INTO offered FROM slots s
    WHERE s.event_id = NEW.event_id AND s.employee_id = NEW.employee_id AND s.published;
  IF promised + 1 > offered THEN
    RAISE EXCEPTION 'no_free_slot' USING ERRCODE = 'check_violation', CONSTRAINT = 'no_free_slot';
  END IF;
  RETURN NEW;
END $$""",
    """
CREATE TRIGGER trg_chats_approve_capacity BEFORE UPDATE OF state ON chats
  FOR EACH ROW WHEN (NEW.state = 'approved' AND OLD.state <> 'approved')
  EXECUTE FUNCTION duet_chats_approve_capacity()""",
    """
CREATE FUNCTION duet_slots_delete_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  promised integer;
  offered integer;
BEGIN
  PERFORM 1 FROM users u WHERE u.id = OLD.employee_id FOR NO KEY UPDATE;
  SELECT count(*) INTO promised FROM chats c
    WHERE c.event_id = OLD.event_id AND c.employee_id = OLD.employee_id
      AND (c.state = 'approved' OR c.slot_id IS NOT NULL);
  SELECT count(*) INTO offered FROM slots s
    WHERE s.event_id = OLD.event_id AND s.employee_id = OLD.employee_id AND s.published;
  IF promised > offered - 1 THEN
    RAISE EXCEPTION 'slot_in_use' USING ERRCODE = 'check_violation', CONSTRAINT = 'slot_in_use';
  END IF;
  RETURN OLD;
END $$""",
    """
CREATE TRIGGER trg_slots_delete_capacity BEFORE DELETE ON slots
  FOR EACH ROW WHEN (OLD.published) EXECUTE FUNCTION duet_slots_delete_capacity()""",
)

_POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS trg_slots_delete_capacity ON slots",
    "DROP TRIGGER IF EXISTS trg_chats_approve_capacity ON chats",
    "DROP TRIGGER IF EXISTS trg_slots_quota_upd ON slots",
    "DROP TRIGGER IF EXISTS trg_slots_quota_ins ON slots",
    "DROP FUNCTION IF EXISTS duet_slots_delete_capacity()",
    "DROP FUNCTION IF EXISTS duet_chats_approve_capacity()",
    "DROP FUNCTION IF EXISTS duet_slots_quota()",
    "ALTER TABLE slots DROP CONSTRAINT IF EXISTS employee_slot_overlap",
    "ALTER TABLE chats DROP CONSTRAINT IF EXISTS participant_overlap",
)


def upgrade() -> None:
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
        return
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
