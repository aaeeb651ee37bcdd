"""Alembic for every service: one history per service (``services/<name>/migrations``), its own version table
(``<name>_alembic_version``), run against the service's database URL; plus the messaging tables every history
creates first.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import UTCDateTime, is_sqlite
from shared.settings import PortalSettings

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def alembic_config(service: str, settings: PortalSettings) -> Config:
    """The Alembic configuration of ``service`` (no ini file: everything comes from the settings)."""
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.attributes["database_url"] = settings.database_url_of(service)
    config.attributes["version_table"] = f"{service}_alembic_version"
    return config


def upgrade(service: str, settings: PortalSettings, revision: str = "head") -> None:
    """Migrate ``service``'s database to ``revision``; creates the data directory for SQLite files.

    Synchronous (Alembic runs its own event loop): from async code call it in a thread.
    """
    url = settings.database_url_of(service)
    if is_sqlite(url):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(service, settings), revision)


def run_migrations() -> None:
    """The body of every service's ``migrations/env.py``: run the migrations online over an async engine."""
    config = context.config
    url = config.attributes["database_url"]
    version_table = config.attributes["version_table"]

    def migrate(connection: sa.Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=None,
            version_table=version_table,
            render_as_batch=is_sqlite(url),
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate)
                await connection.commit()
        finally:
            await engine.dispose()

    asyncio.run(main())


def create_messaging_tables() -> None:
    """Create ``outbox_messages``, ``inbox_messages`` and ``inbox_subject_versions`` (inside a migration)."""
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("event_version", sa.Integer, nullable=False),
        sa.Column("routing_key", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("aggregate_version", sa.Integer, nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("parked_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_outbox_messages_pending", "outbox_messages", ["sent_at", "parked_at", "next_attempt_at"])
    op.create_table(
        "inbox_messages",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("message_id", sa.String(36), primary_key=True),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "inbox_subject_versions",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("source", sa.String(50), primary_key=True),
        sa.Column("subject", sa.String(100), primary_key=True),
        sa.Column("aggregate_version", sa.Integer, nullable=False),
    )


def drop_messaging_tables() -> None:
    """Drop the tables :func:`create_messaging_tables` created."""
    for table in ("inbox_subject_versions", "inbox_messages", "outbox_messages"):
        op.drop_table(table)
