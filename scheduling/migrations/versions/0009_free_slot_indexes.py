"""The offers list's counts read from the employee index alone.

Building the offers list (900 employees, 43,200 slots) counted every free slot by employee
and day through `ix_slots_event_employee` (event, employee), reading each slot's row and
sorting them for the GROUP BY (~33 ms of SQL; docs/performance.md, issue #12), and a booking
makes every node build it again. The index now also holds what the count reads (day,
published, starts_at), in the GROUP BY's order: ~17 ms.

Not an index on (event, published, starts_at) for the earliest free slot: without statistics
SQLite preferred it for one employee's slots too (three terms against two) and walked the
whole event's slots for each, which made approvals and one employee's slots 50x slower.

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


def downgrade() -> None:
    op.drop_index("ix_slots_event_employee", table_name="slots")
    op.create_index("ix_slots_event_employee", "slots", ["event_id", "employee_id"])
