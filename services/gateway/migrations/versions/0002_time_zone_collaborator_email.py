"""A doctor's time zone (periods of the practice insights are counted in it), and collaborators found by e-mail
(a signed-in doctor's collaborations are looked up on every case request).

Revision ID: gateway_0002
Revises: gateway_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0002"
down_revision = "gateway_0001"


def upgrade() -> None:
    with op.batch_alter_table("accounts") as table:
        table.add_column(sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"))
    op.create_index("ix_collaborators_email", "collaborators", ["email"])


def downgrade() -> None:
    op.drop_index("ix_collaborators_email", "collaborators")
    with op.batch_alter_table("accounts") as table:
        table.drop_column("time_zone")
