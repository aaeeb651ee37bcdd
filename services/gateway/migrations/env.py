"""Alembic environment of the gateway service (run by ``portal migrate``)."""

from shared.migrations import run_migrations

run_migrations()
