"""Alembic for every service: one history per service (``services/<name>/migrations``), its own version table
(``<name>_alembic_version``), run against the service's database URL.

Every history also reads the versions in ``shared/messaging/migrations``: the messaging tables (outbox and inbox)
are created by one migration there, ``messaging_0001``, that each service's first own migration builds on.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import is_sqlite
from shared.settings import PortalSettings

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
MESSAGING_VERSIONS = Path(__file__).resolve().parent / "messaging" / "migrations"


def alembic_config(service: str, settings: PortalSettings) -> Config:
    """The Alembic configuration of ``service`` (no ini file: everything comes from the settings)."""
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("path_separator", "os")
    locations = [MESSAGING_VERSIONS, SERVICES_DIR / service / "migrations" / "versions"]
    config.set_main_option("version_locations", os.pathsep.join(str(p) for p in locations if p.is_dir()))
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
