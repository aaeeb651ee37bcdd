"""The gateway service's messaging tables: outbox and inbox.

Revision ID: 0001
Revises:
"""

from shared.migrations import create_messaging_tables, drop_messaging_tables

revision = "0001"
down_revision = None


def upgrade() -> None:
    create_messaging_tables()


def downgrade() -> None:
    drop_messaging_tables()
