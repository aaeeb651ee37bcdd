"""Orders: patients, orders (aligner, retainer, modification), cases, order-number counters, idempotency keys.

Revision ID: orders_0001
Revises: messaging_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "orders_0001"
down_revision = "messaging_0001"


def _created_updated() -> list[sa.Column]:
    return [
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("date_of_birth", sa.Date, nullable=False),
        sa.Column("sex", sa.String(10), nullable=False),
        sa.Column("search_key", sa.String(210), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *_created_updated(),
    )
    op.create_index("ix_patients_doctor_id", "patients", ["doctor_id"])
    op.create_index("ix_patients_doctor_search", "patients", ["doctor_id", "search_key"])
    op.create_table(
        "orders",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("order_number", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("patient_id", sa.String(36), sa.ForeignKey("patients.id", name="fk_orders_patient_id")),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        *_created_updated(),
        sa.Column("submitted_at", UTCDateTime()),
        sa.UniqueConstraint("order_number", name="uq_orders_order_number"),
    )
    op.create_index("ix_orders_doctor_id", "orders", ["doctor_id"])
    op.create_index("ix_orders_case_id", "orders", ["case_id"])
    op.create_index("ix_orders_patient_id", "orders", ["patient_id"])
    op.create_index("ix_orders_doctor_created", "orders", ["doctor_id", "created_at"])
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("event_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(40)),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_cases_doctor_id", "cases", ["doctor_id"])
    op.create_table(
        "order_number_counters",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_number", sa.Integer, nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("doctor_id", sa.String(36), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response_status", sa.Integer, nullable=False),
        sa.Column("response_body", sa.JSON),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    for table in ("idempotency_keys", "order_number_counters", "cases", "orders", "patients"):
        op.drop_table(table)
