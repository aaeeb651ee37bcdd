"""Cases: the doctor's label index holds the case id too, so the orders list sorted by label chooses its page from
the index alone.

Revision ID: cases_0003
Revises: cases_0002
"""

from alembic import op

revision = "cases_0003"
down_revision = "cases_0002"


def upgrade() -> None:
    op.drop_index("ix_cases_doctor_label", "cases")
    op.create_index("ix_cases_doctor_label", "cases", ["doctor_id", "label_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_doctor_label", "cases")
    op.create_index("ix_cases_doctor_label", "cases", ["doctor_id", "label_id"])
