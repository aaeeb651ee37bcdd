"""Documents: the service's copy of cases, each order's records checklist, stored documents.

Revision ID: documents_0001
Revises: messaging_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "documents_0001"
down_revision = "messaging_0001"


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("doctor_id", sa.String(36), nullable=False, index=True),
        sa.Column("order_number", sa.String(20), nullable=False),
        sa.Column("current_order_id", sa.String(36), nullable=False),
        sa.Column("collaborator_ids", sa.JSON, nullable=False),
        sa.Column("records_version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "order_checklists",
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False, index=True),
        sa.Column("order_number", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("submitted_at", UTCDateTime()),
        sa.Column("required_slots", sa.JSON, nullable=False),
        sa.Column("missing_slots", sa.JSON, nullable=False),
        sa.Column("completed_at", UTCDateTime()),
        sa.Column("pvs", sa.Boolean, nullable=False),
        sa.Column("practice_id", sa.String(36)),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(36), index=True),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("slot", sa.String(40), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("facts", sa.JSON, nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("uploaded_by", sa.String(36), nullable=False),
        sa.Column("source_document_id", sa.String(36)),
        sa.Column("setup_version", sa.Integer),
        sa.Column("thumbnail_key", sa.String(200)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_documents_case_slot", "documents", ["case_id", "slot", "created_at"])


def downgrade() -> None:
    op.drop_table("documents")
    op.drop_table("order_checklists")
    op.drop_table("cases")
