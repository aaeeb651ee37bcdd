"""The messaging tables every service's database holds: the outbox, the inbox and the inbox's subject versions.

Part of every service's Alembic history (see ``shared.migrations``); each service's own first migration names
``messaging_0001`` as its ``down_revision``.

Revision ID: messaging_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "messaging_0001"
down_revision = None


def upgrade() -> None:
    """Create ``outbox_messages``, ``inbox_messages`` and ``inbox_subject_versions``."""
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("event_version", sa.Integer, nullable=False),
        sa.Column("routing_key", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("aggregate_version", sa.Integer, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("parked_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_outbox_messages_pending", "outbox_messages", ["sent_at", "parked_at", "next_attempt_at"])
    op.create_table(
        "inbox_messages",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "inbox_subject_versions",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("source", sa.String(50), primary_key=True),
        sa.Column("subject", sa.String(100), primary_key=True),
        sa.Column("aggregate_version", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    """Drop the messaging tables."""
    for table in ("inbox_subject_versions", "inbox_messages", "outbox_messages"):
        op.drop_table(table)
