"""Identity: accounts, practices, phones, sessions, API keys, collaborators, login failures, the audit log.

Revision ID: gateway_0001
Revises: messaging_0001
"""

import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "gateway_0001"
down_revision = "messaging_0001"


def _id() -> sa.Column:
    return sa.Column("id", sa.String(36), primary_key=True)


def _owner(column: str = "doctor_id") -> sa.Column:
    return sa.Column(column, sa.String(36), sa.ForeignKey("accounts.id"), nullable=False, index=True)


def _created() -> sa.Column:
    return sa.Column("created_at", UTCDateTime(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "accounts",
        _id(),
        sa.Column("email", sa.String(320), nullable=False, unique=True, index=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("degree", sa.String(50)),
        sa.Column("specialty", sa.String(100)),
        sa.Column("username", sa.String(50), unique=True),
        sa.Column("country", sa.String(2)),
        sa.Column("language", sa.String(5), nullable=False),
        sa.Column("wear_schedule_days", sa.Integer, nullable=False),
        sa.Column("email_notifications", sa.JSON, nullable=False),
        sa.Column("daily_digest", sa.Boolean, nullable=False),
        sa.Column("clinical_preferences", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        _created(),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "practices",
        _id(),
        _owner(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("line1", sa.String(200), nullable=False),
        sa.Column("line2", sa.String(200)),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("postal_code", sa.String(20), nullable=False),
        sa.Column("region", sa.String(100)),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("phone", sa.String(40)),
        _created(),
    )
    op.create_table(
        "phones",
        _id(),
        _owner(),
        sa.Column("label", sa.String(50), nullable=False),
        sa.Column("number", sa.String(40), nullable=False),
        _created(),
    )
    op.create_table(
        "sessions",
        _id(),
        _owner("account_id"),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("csrf_digest", sa.String(64), nullable=False),
        sa.Column("client_address", sa.String(64)),
        _created(),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime()),
    )
    op.create_table(
        "api_keys",
        _id(),
        _owner("account_id"),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("secret_digest", sa.String(64), nullable=False, unique=True),
        _created(),
        sa.Column("last_used_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
    )
    op.create_table(
        "collaborators",
        _id(),
        _owner(),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("permissions", sa.JSON, nullable=False),
        _created(),
        sa.UniqueConstraint("doctor_id", "email", name="uq_collaborators_doctor_email"),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("client_address", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_login_failures_email_at", "login_failures", ["email", "at"])
    op.create_index("ix_login_failures_address_at", "login_failures", ["client_address", "at"])
    op.create_table(
        "audit_log",
        _id(),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.String(36)),
        sa.Column("actor_role", sa.String(20)),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("object_type", sa.String(40), nullable=False),
        sa.Column("object_id", sa.String(100)),
        sa.Column("case_id", sa.String(36)),
        sa.Column("owner_doctor_id", sa.String(36)),
        sa.Column("client_address", sa.String(64)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_log_owner_at", "audit_log", ["owner_doctor_id", "at"])
    op.create_index("ix_audit_log_case_at", "audit_log", ["case_id", "at"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "login_failures",
        "collaborators",
        "api_keys",
        "sessions",
        "phones",
        "practices",
        "accounts",
    ):
        op.drop_table(table)
