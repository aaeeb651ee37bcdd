"""Databases for tests: a SQLite file or a fresh PostgreSQL database per test, dropped afterwards."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import asyncpg

POSTGRES_ADMIN_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def create_postgres_database() -> str:
    """Create an empty database; returns its SQLAlchemy async URL."""
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return POSTGRES_ADMIN_URL.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"


async def drop_postgres_database(url: str) -> None:
    """Drop the database of ``url``, closing whatever connections are left on it."""
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def sqlite_url(directory: Path, name: str = "service") -> str:
    """The async URL of a SQLite file in ``directory``."""
    return f"sqlite+aiosqlite:///{directory / f'{name}.sqlite3'}"
