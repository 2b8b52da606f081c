"""Shared fixtures: databases (SQLite always, PostgreSQL when configured) and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from storage.database import Database
from storage.migrate import upgrade

# The one switch for the PostgreSQL half of the suite (.ci/run sets it).
PG_URL = os.environ.get("GOVWATCH_TEST_DATABASE_URL")
REPO = Path(__file__).resolve().parents[1]


def _pg_schema_url(schema: str) -> str:
    assert PG_URL
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'govwatch.db'}"
        return
    if not PG_URL:
        pytest.skip("GOVWATCH_TEST_DATABASE_URL is not set")
    schema = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """A database with govwatch's schema."""
    database = Database(database_url)
    upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """A SQLite database with govwatch's schema (for what only SQLite shows: its plans)."""
    database = Database(f"sqlite:///{tmp_path / 'govwatch.db'}")
    upgrade(database)
    yield database
    database.dispose()


def run_code(code: str, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` (a probe around govwatch's own entry points) with ``argv`` in a
    real subprocess, from the repository."""
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``govwatch`` as users do: a real subprocess."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GOVWATCH_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "scheduler", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=timeout,
        check=False,
    )
