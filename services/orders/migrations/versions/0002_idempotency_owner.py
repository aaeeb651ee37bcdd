"""Idempotency keys belong to a caller, not only to a doctor: ``idempotency_keys.doctor_id`` becomes ``owner_id``
(the table's model is shared by every service that accepts ``Idempotency-Key``).

Revision ID: orders_0002
Revises: orders_0001
"""

from alembic import op

revision = "orders_0002"
down_revision = "orders_0001"


def upgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as table:
        table.alter_column("doctor_id", new_column_name="owner_id")


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as table:
        table.alter_column("owner_id", new_column_name="doctor_id")
