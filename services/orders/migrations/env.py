"""Alembic environment of the orders service (run by ``portal migrate``)."""

from shared.migrations import run_migrations

run_migrations()
