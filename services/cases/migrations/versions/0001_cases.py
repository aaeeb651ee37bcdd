"""Cases: the case and its list row, collaborators, setups, phases, history, records answers, documents, patients,
doctors, labels, patient links and their failed passwords, expiry reminders, idempotency keys.

On PostgreSQL the list's free-text search gets a trigram index (``pg_trgm``, a trusted extension the database's owner
may create), so that ``LIKE '%term%'`` does not read every case.

Revision ID: cases_0001
Revises: messaging_0001
"""

import sqlalchemy as sa
from alembic import op

from shared import idempotency
from shared.db import UTCDateTime

revision = "cases_0001"
down_revision = "messaging_0001"


def _id(name: str = "id") -> sa.Column:
    return sa.Column(name, sa.String(36), primary_key=True)


def _at(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        _id(),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("order_id", sa.String(36)),
        sa.Column("order_number", sa.String(20)),
        sa.Column("kind", sa.String(20)),
        sa.Column("patient_id", sa.String(36)),
        sa.Column("patient_first_name", sa.String(100)),
        sa.Column("patient_last_name", sa.String(100)),
        sa.Column("patient_sort_key", sa.String(210), nullable=False),
        sa.Column("search_text", sa.String(240), nullable=False),
        sa.Column("status", sa.String(30), nullable=False),
        sa.Column("status_rank", sa.Integer, nullable=False),
        sa.Column("bucket", sa.String(20), nullable=False),
        sa.Column("held_from", sa.String(30)),
        sa.Column("version", sa.Integer, nullable=False),
        _at("created_at", nullable=False),
        _at("updated_at", nullable=False),
        _at("submitted_at"),
        sa.Column("intake_order_id", sa.String(36)),
        sa.Column("intake_kind", sa.String(20)),
        sa.Column("intake_required_slots", sa.JSON, nullable=False),
        sa.Column("intake_pvs", sa.Boolean, nullable=False),
        sa.Column("intake_applied", sa.Boolean, nullable=False),
        _at("impressions_received_at"),
        sa.Column("problem_slots", sa.JSON, nullable=False),
        sa.Column("problem_reason", sa.Text),
        _at("problem_raised_at"),
        sa.Column("main_photo_document_id", sa.String(36)),
        sa.Column("package", sa.String(20)),
        _at("approved_at"),
        sa.Column("setup_version", sa.Integer),
        _at("setup_published_at"),
        sa.Column("setup_state", sa.String(20)),
        sa.Column("collaborator_status", sa.String(30)),
        _at("expires_at"),
        sa.Column("label_id", sa.String(36)),
        sa.Column("comment", sa.Text),
    )
    for name, columns in (
        ("ix_cases_doctor_created", ["doctor_id", "created_at", "id"]),
        ("ix_cases_doctor_status", ["doctor_id", "status_rank", "id"]),
        ("ix_cases_doctor_order_number", ["doctor_id", "order_number"]),
        ("ix_cases_doctor_patient", ["doctor_id", "patient_sort_key", "id"]),
        ("ix_cases_doctor_setup", ["doctor_id", "setup_published_at", "id"]),
        ("ix_cases_doctor_expiry", ["doctor_id", "expires_at", "id"]),
        ("ix_cases_doctor_collaborator", ["doctor_id", "collaborator_status", "id"]),
        ("ix_cases_doctor_label", ["doctor_id", "label_id"]),
        ("ix_cases_created", ["created_at", "id"]),
        ("ix_cases_status", ["status_rank", "id"]),
        ("ix_cases_expiry", ["expires_at"]),
        ("ix_cases_patient_id", ["patient_id"]),
    ):
        op.create_index(name, "cases", columns)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_cases_search_trgm ON cases USING gin (search_text gin_trgm_ops)")

    op.create_table(
        "case_collaborators",
        _id("case_id"),
        sa.Column("collaborator_id", sa.String(36), primary_key=True),
    )
    op.create_index("ix_case_collaborators_collaborator_id", "case_collaborators", ["collaborator_id"])
    op.create_table(
        "setups",
        _id(),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("technician_comment", sa.Text, nullable=False),
        sa.Column("steps_upper", sa.Integer, nullable=False),
        sa.Column("steps_lower", sa.Integer, nullable=False),
        sa.Column("document_id", sa.String(36)),
        _at("published_at", nullable=False),
        sa.Column("published_by", sa.String(36), nullable=False),
        _at("decided_at"),
        sa.Column("decided_by", sa.String(36)),
        sa.Column("decision_reason", sa.Text),
        sa.Column("package", sa.String(20)),
        sa.Column("collaborator_verdict", sa.String(20)),
        sa.Column("collaborator_reason", sa.Text),
        sa.UniqueConstraint("case_id", "version", name="uq_setups_case_version"),
    )
    op.create_index("ix_setups_case_id", "setups", ["case_id"])
    op.create_table(
        "phases",
        _id("case_id"),
        sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("steps_from", sa.Integer, nullable=False),
        sa.Column("steps_to", sa.Integer, nullable=False),
        _at("created_at", nullable=False),
        _at("shipped_at"),
        sa.Column("carrier", sa.String(100)),
        sa.Column("tracking_number", sa.String(100)),
        _at("delivered_at"),
        sa.Column("final", sa.Boolean, nullable=False),
    )
    op.create_table(
        "case_history",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        _at("at", nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.String(36)),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("status_from", sa.String(30)),
        sa.Column("status_to", sa.String(30)),
        sa.Column("number", sa.Integer),
        sa.Column("cause_event_id", sa.String(36)),
        sa.Column("event_id", sa.String(36)),
    )
    op.create_index("ix_case_history_case_at", "case_history", ["case_id", "at"])
    op.create_index("ix_case_history_doctor_kind_at", "case_history", ["doctor_id", "kind", "at"])
    op.create_table(
        "records_results",
        _id("case_id"),
        sa.Column("order_id", sa.String(36), primary_key=True),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("missing", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "case_documents",
        _id("document_id"),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("slot", sa.String(40), nullable=False),
        _at("uploaded_at"),
        sa.Column("deleted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_case_documents_case_slot", "case_documents", ["case_id", "slot"])
    op.create_table(
        "patients",
        _id(),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "doctors",
        _id(),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "labels",
        _id(),
        sa.Column("doctor_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("color", sa.String(7), nullable=False),
        sa.Column("name", sa.String(50), nullable=False),
        sa.UniqueConstraint("doctor_id", "position", name="uq_labels_doctor_position"),
    )
    op.create_index("ix_labels_doctor_id", "labels", ["doctor_id"])
    op.create_table(
        "patient_links",
        _id(),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String),
        _at("created_at", nullable=False),
        sa.Column("created_by", sa.String(36), nullable=False),
        _at("expires_at", nullable=False),
        _at("revoked_at"),
        sa.Column("views", sa.Integer, nullable=False),
        _at("last_viewed_at"),
        sa.UniqueConstraint("token_digest", name="uq_patient_links_token_digest"),
    )
    op.create_index("ix_patient_links_case_id", "patient_links", ["case_id"])
    op.create_table(
        "patient_link_failures",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("link_id", sa.String(36), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        _at("at", nullable=False),
    )
    op.create_index("ix_patient_link_failures_link_at", "patient_link_failures", ["link_id", "at"])
    op.create_index("ix_patient_link_failures_address_at", "patient_link_failures", ["client_address", "at"])
    op.create_table(
        "expiry_reminders",
        _id("case_id"),
        sa.Column("days_before", sa.Integer, primary_key=True, autoincrement=False),
        _at("handled_at", nullable=False),
        sa.Column("sent", sa.Boolean, nullable=False),
    )
    idempotency.create_table()


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "expiry_reminders",
        "patient_link_failures",
        "patient_links",
        "labels",
        "doctors",
        "patients",
        "case_documents",
        "records_results",
        "case_history",
        "phases",
        "setups",
        "case_collaborators",
        "cases",
    ):
        op.drop_table(table)
