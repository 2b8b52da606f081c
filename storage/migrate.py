"""Schema creation and upgrades with Alembic, run from code (``govwatch init``)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from storage.database import Database, describe_db_error
from storage.errors import SchemaError, StorageError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Arbitrary constant: serialises concurrent upgrades of one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x676F7677  # "govw"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revisions() -> tuple[str, ...]:
    """The newest revision of each migration branch (usually one)."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if not heads:
        raise SchemaError("govwatch ships no migrations (broken installation)")
    return tuple(sorted(heads))


def head_revision() -> str:
    """The schema revision this govwatch expects, as one string (branches joined by '+')."""
    return "+".join(head_revisions())


def current_revision(db: Database) -> str | None:
    """The revision the database is at (branches joined by '+'), or ``None`` when empty."""
    try:
        with db.engine.connect() as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
    except SQLAlchemyError as exc:
        raise StorageError(describe_db_error(exc, db.display_url)) from exc
    return "+".join(sorted(heads)) if heads else None


def upgrade(db: Database) -> tuple[str | None, str]:
    """Create or upgrade the schema to the newest revision; idempotent.

    Returns ``(revision before, revision after)``.  Refuses a database whose schema is newer
    than this version of govwatch knows.  Independent migration branches are all applied.
    """
    script = ScriptDirectory.from_config(alembic_config())
    head = head_revision()
    try:
        with db.engine.begin() as conn:
            _lock(conn)
            current = MigrationContext.configure(conn).get_current_heads()
            before = "+".join(sorted(current)) if current else None
            for revision in current:
                try:
                    script.get_revision(revision)
                except Exception as exc:
                    raise SchemaError(
                        f"database {db.display_url} has schema revision {revision}, newer "
                        "than this govwatch knows: upgrade govwatch"
                    ) from exc
            if before != head:
                log.info("upgrading schema of %s from %s to %s", db.display_url, before, head)
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "heads")
    except SQLAlchemyError as exc:
        raise StorageError(describe_db_error(exc, db.display_url)) from exc
    return before, head


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
