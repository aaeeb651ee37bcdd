"""Notifications: doctors' profiles, cases' latest statuses, notifications, broadcasts with their recipients and
read/dismiss marks, e-mail deliveries, idempotency keys.

Revision ID: notifications_0001
Revises: messaging_0001
"""

import sqlalchemy as sa
from alembic import op

from shared import idempotency
from shared.db import UTCDateTime

revision = "notifications_0001"
down_revision = "messaging_0001"


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "doctors",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("email_notifications", sa.JSON, nullable=False),
        sa.Column("daily_digest", sa.Boolean, nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        _at("updated_at", nullable=False),
    )
    op.create_index("ix_doctors_daily_digest", "doctors", ["daily_digest"])
    op.create_table(
        "case_statuses",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("order_number", sa.String(20)),
        sa.Column("patient_name", sa.String(210)),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("case_id", sa.String(36)),
        sa.Column("case_version", sa.Integer),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("source_event_id", sa.String(36), nullable=False),
        _at("created_at", nullable=False),
        _at("expires_at", nullable=False),
        _at("read_at"),
        _at("dismissed_at"),
        sa.Column("email_due", sa.Boolean, nullable=False),
        sa.Column("emailed_by", sa.String(36)),
        sa.UniqueConstraint("source_event_id", "doctor_id", name="uq_notifications_source_event_doctor"),
    )
    op.create_index("ix_notifications_doctor_created", "notifications", ["doctor_id", "created_at"])
    op.create_index("ix_notifications_case_id", "notifications", ["case_id"])
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.String(2000), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("audience_all", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        _at("created_at", nullable=False),
        _at("expires_at", nullable=False),
        _at("withdrawn_at"),
    )
    op.create_index("ix_broadcasts_created_at", "broadcasts", ["created_at"])
    op.create_table(
        "broadcast_recipients",
        sa.Column("broadcast_id", sa.String(36), primary_key=True),
        sa.Column("doctor_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_broadcast_recipients_doctor_id", "broadcast_recipients", ["doctor_id"])
    op.create_table(
        "broadcast_states",
        sa.Column("broadcast_id", sa.String(36), primary_key=True),
        sa.Column("doctor_id", sa.String(36), primary_key=True),
        _at("read_at"),
        _at("dismissed_at"),
    )
    op.create_table(
        "email_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("notification_ids", sa.JSON, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _at("created_at", nullable=False),
        _at("next_attempt_at", nullable=False),
        _at("claimed_until"),
        _at("sent_at"),
        sa.Column("transport", sa.String(10)),
        sa.Column("message_id", sa.String(200)),
        sa.Column("last_error", sa.String(1000)),
        sa.UniqueConstraint("event_id", "channel", "recipient", name="uq_email_deliveries_key"),
    )
    op.create_index("ix_email_deliveries_due", "email_deliveries", ["state", "next_attempt_at"])
    op.create_index("ix_email_deliveries_doctor_id", "email_deliveries", ["doctor_id"])
    idempotency.create_table()


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "email_deliveries",
        "broadcast_states",
        "broadcast_recipients",
        "broadcasts",
        "notifications",
        "case_statuses",
        "doctors",
    ):
        op.drop_table(table)
