"""`rooms_opened`: one row per room whose `room.opened` webhook was written, so two nodes that
write the two people's first joins in the same second send it once (rooms/attendance.py).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rooms_opened",
        sa.Column(
            "chat_id",
            sa.String(64),
            sa.ForeignKey("chats.id", ondelete="CASCADE", name="fk_rooms_opened_chat_id_chats"),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", name="pk_rooms_opened"),
    )


def downgrade() -> None:
    op.drop_table("rooms_opened")
