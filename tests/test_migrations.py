"""Each service's migrations create exactly the tables, columns, nullability and indexes its models describe, on
SQLite and PostgreSQL (Alembic's own comparison of a migrated database with the models' metadata)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData

from shared.db import create_engine
from shared.idempotency import IdempotencyKey
from shared.messaging.inbox import InboxMessage, InboxSubjectVersion
from shared.messaging.outbox import OutboxMessage
from shared.settings import PortalSettings
from tests.harness.fixtures import migrate

SHARED_TABLES = {
    "gateway": (),
    "orders": (IdempotencyKey,),
    "cases": (IdempotencyKey,),
    "documents": (),
    "notifications": (IdempotencyKey,),
}
"""The tables of ``shared`` a service's database holds besides the messaging ones."""

DATABASE_ONLY_INDEXES = {
    "ix_cases_search_trgm",
    "ix_cases_doctor_order_number_desc",
    "ix_cases_doctor_setup_desc",
    "ix_cases_doctor_collaborator_desc",
    "ix_cases_doctor_expiry_desc",
}
"""Indexes a migration creates on one database kind only (PostgreSQL's trigram search and the list's descending
sorts with empty values last), unknown to the models."""


def metadata_of(service: str) -> MetaData:
    """The tables the service's models describe (its own, the messaging tables and the shared ones it keeps)."""
    module = importlib.import_module(f"services.{service}.models")
    models = [
        value
        for value in vars(module).values()
        if inspect.isclass(value) and value.__module__ == module.__name__ and hasattr(value, "__table__")
    ]
    metadata = MetaData()
    for model in (*models, OutboxMessage, InboxMessage, InboxSubjectVersion, *SHARED_TABLES[service]):
        model.__table__.to_metadata(metadata)
    return metadata


@pytest.mark.parametrize("service", sorted(SHARED_TABLES))
async def test_migrations_make_what_the_models_describe(service: str, tmp_path: Path, database_url: str) -> None:
    settings = PortalSettings(env="test", data_dir=tmp_path, **{f"{service}_database_url": database_url})
    await migrate(service, settings)
    metadata = metadata_of(service)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:

            def differences(sync_connection):  # type: ignore[no-untyped-def]
                context = MigrationContext.configure(sync_connection, opts={"compare_type": False})
                return compare_metadata(context, metadata)

            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    relevant = [
        change
        for change in found
        if not (change[0] == "remove_table" and change[1].name == f"{service}_alembic_version")
        and not (change[0] == "remove_index" and change[1].name in DATABASE_ONLY_INDEXES)
    ]
    assert relevant == []
