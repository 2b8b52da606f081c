"""Schema creation and upgrades with Alembic, run from code (``govwatch init``).

Every command that opens the database calls :func:`upgrade`.  A database already at the
newest revision is the common case, and is recognised without importing Alembic (a third of
a second of a command's start-up): the shipped head is read from the migration files' text,
the database's from its ``alembic_version`` table.  Anything else takes Alembic's path.
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from storage.database import Database, describe_db_error
from storage.errors import SchemaError, StorageError
from storage.locks import lock_for_migration

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# ``revision = "0007"`` / ``down_revision: str | None = "0006"`` lines of a migration file
_REVISION_LINE = re.compile(r"^(down_revision|revision)\b[^=\n]*=\s*(.+?)\s*$", re.M)
_QUOTED = re.compile(r"""["']([^"'\s]+)["']""")


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revisions() -> tuple[str, ...]:
    """The newest revision of each migration branch (usually one)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if not heads:
        raise SchemaError("govwatch ships no migrations (broken installation)")
    return tuple(sorted(heads))


def head_revision() -> str:
    """The schema revision this govwatch expects, as one string (branches joined by '+')."""
    return "+".join(head_revisions())


def current_revision(db: Database) -> str | None:
    """The revision the database is at (branches joined by '+'), or ``None`` when empty."""
    from alembic.runtime.migration import MigrationContext

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
    at_head = _current_if_head(db)
    if at_head is not None:
        return at_head, at_head
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    head = head_revision()
    try:
        with db.engine.begin() as conn:
            lock_for_migration(conn)
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


@cache
def shipped_heads() -> tuple[str, ...] | None:
    """The head revisions, read from the migration files' text without Alembic.

    ``None`` when a file is not in the plain form Alembic writes (one quoted ``revision``,
    a quoted or ``None`` ``down_revision``): a merge migration, say; Alembic decides then.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        fields = {m.group(1): m.group(2) for m in _REVISION_LINE.finditer(source)}
        revision, down = _QUOTED.fullmatch(fields.get("revision", "")), fields.get("down_revision")
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        if down != "None":
            parent = _QUOTED.fullmatch(down)
            if parent is None:
                return None
            parents.add(parent.group(1))
    heads = revisions - parents
    return tuple(sorted(heads)) if heads else None


def _current_if_head(db: Database) -> str | None:
    """The database's revision if it is already the shipped head (else ``None``: Alembic's
    path decides, and reports any error)."""
    heads = shipped_heads()
    if heads is None:
        return None
    if db.is_sqlite:
        exists = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :t"
    else:
        exists = "SELECT count(*) FROM pg_catalog.pg_class WHERE oid = to_regclass(:t)"
    try:
        with db.engine.connect() as conn:
            if not conn.execute(text(exists), {"t": "alembic_version"}).scalar():
                return None
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
            current = tuple(sorted(rows))
    except SQLAlchemyError:
        return None
    return "+".join(heads) if current == heads else None
