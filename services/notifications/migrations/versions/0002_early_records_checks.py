"""Records checks heard before their case waits for records, kept for the case's move to ``awaiting_records`` when
that move names no slot (PVS impressions): the photos the check found missing are asked for then.

Revision ID: notifications_0002
Revises: notifications_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "notifications_0002"
down_revision = "notifications_0001"


def upgrade() -> None:
    op.create_table(
        "early_records_checks",
        sa.Column("case_id", sa.String(36), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("missing", sa.JSON, nullable=False),
        sa.Column("checked_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("early_records_checks")
