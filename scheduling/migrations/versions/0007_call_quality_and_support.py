"""Call quality summaries and in-call Support requests (issue 13, the live fair).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_quality",
        sa.Column(
            "chat_id",
            sa.String(64),
            sa.ForeignKey("chats.id", ondelete="CASCADE", name="fk_call_quality_chat_id_chats"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "user_id", name="pk_call_quality"),
    )
    op.create_table(
        "support_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column(
            "chat_id",
            sa.String(64),
            sa.ForeignKey("chats.id", ondelete="CASCADE", name="fk_support_requests_chat_id_chats"),
            nullable=False,
        ),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("text", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("answered_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_support_requests"),
    )
    op.create_index("ix_support_requests_chat", "support_requests", ["chat_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_support_requests_chat", table_name="support_requests")
    op.drop_table("support_requests")
    op.drop_table("call_quality")
