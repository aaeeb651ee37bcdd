"""Cases: on PostgreSQL the orders list's descending sorts by a column that may be empty read an index too.

The list puts empty values last both ways (``DESC NULLS LAST``), and PostgreSQL reads an ascending index backwards
only as ``DESC NULLS FIRST``: without an index in that order it sorted every case of the doctor. SQLite reads the
ascending indexes for both (and has no ``NULLS LAST`` in an index).

Revision ID: cases_0002
Revises: cases_0001
"""

from alembic import op

revision = "cases_0002"
down_revision = "cases_0001"

DESCENDING = {
    "ix_cases_doctor_order_number_desc": "order_number",
    "ix_cases_doctor_setup_desc": "setup_published_at",
    "ix_cases_doctor_collaborator_desc": "collaborator_status",
    "ix_cases_doctor_expiry_desc": "expires_at",
}
"""Each index and the column of the list it sorts by descending, empty values last (the id breaking ties)."""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, column in DESCENDING.items():
            op.execute(f"CREATE INDEX {name} ON cases (doctor_id, {column} DESC NULLS LAST, id DESC)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in DESCENDING:
            op.execute(f"DROP INDEX {name}")
