"""Alembic environment of the documents service (run by ``portal migrate``)."""

from shared.migrations import run_migrations

run_migrations()
