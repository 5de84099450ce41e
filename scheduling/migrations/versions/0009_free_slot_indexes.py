"""Indexes for the offers list's counts: every free slot of an event by employee and day, and
the event's earliest free slot.

Building the offers list (900 employees, 43,200 slots) spent ~50 ms in two statements that
walked the slots through `ix_slots_event_employee` and read each row (docs/performance.md,
issue #12); a booking makes every node build it again. The employee index now also holds what
the count reads (day, published, starts_at), and a second index finds the earliest free slot
in start order.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_slots_event_employee", table_name="slots")
    op.create_index(
        "ix_slots_event_employee",
        "slots",
        ["event_id", "employee_id", "day", "published", "starts_at"],
    )
    op.create_index("ix_slots_event_free_start", "slots", ["event_id", "published", "starts_at"])


def downgrade() -> None:
    op.drop_index("ix_slots_event_free_start", table_name="slots")
    op.drop_index("ix_slots_event_employee", table_name="slots")
    op.create_index("ix_slots_event_employee", "slots", ["event_id", "employee_id"])
