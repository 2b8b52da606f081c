"""govwatch's database locks, behind one small interface: the leader lock and the
migration lock.  ``storage`` is the only place with queries, so the SQL of both lives here;
``scheduler.leader`` gives the service its leader lock from here.

The leader lock: one active scheduler per database.  A second ``govwatch run`` on the same
database stands by instead of firing jobs twice (APScheduler 3's job stores must not be
shared by two schedulers).  It tries the lock every ``[service] standby_poll_seconds`` and
takes over when the leader is gone:

- PostgreSQL: a session-level advisory lock held on a dedicated connection.  It is
  released by the server when the leader's process or connection dies.  Its key is derived
  from the schema in use, so databases that share a server in separate schemas do not
  block each other.
- SQLite: ``fcntl.flock`` on a lock file next to the database file (``DB.run-lock``),
  released by the kernel when the leader's process dies.  SQLite is one host, so a file
  lock is enough.

The migration lock (:func:`lock_for_migration`): concurrent schema upgrades of one
PostgreSQL database wait for each other (a transaction-level advisory lock, released when
the upgrade's transaction ends); SQLite serialises writers itself.
"""

from __future__ import annotations

import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from storage.database import Database, driver_message

log = logging.getLogger(__name__)

_PG_LOCK_CLASS = 0x67770007  # "gw" + the issue that made it; first half of the lock key
# Arbitrary constant: serialises concurrent upgrades of one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x676F7677  # "govw"


class LeaderLock(Protocol):
    """A lock held by at most one process per database."""

    description: str

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks."""
        ...

    def held(self) -> bool:
        """Whether the lock is still ours (a dropped PostgreSQL connection loses it)."""
        ...

    def release(self) -> None: ...


def lock_for_migration(conn: Connection) -> None:
    """Wait for, then hold until ``conn``'s transaction ends, the migration lock of its
    database (PostgreSQL; nothing to do on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})


def leader_lock(db: Database) -> LeaderLock:
    """The right lock for ``db``'s backend."""
    if not db.is_sqlite:
        return PgAdvisoryLock(db)
    database = db.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return NoLock()  # a private in-memory database cannot be shared anyway
    return FileLock(
        Path(database).expanduser().resolve().with_name(Path(database).name + ".run-lock")
    )


class NoLock:
    description = "no lock (private in-memory database)"

    def try_acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


class FileLock:
    """An exclusive ``flock`` on ``path``; the file holds the leader's pid, for people."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"lock file {path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class PgAdvisoryLock:
    """``pg_try_advisory_lock(class, hash(schema))`` on a connection of its own."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.description = f"advisory lock on {db.display_url}"
        self._conn: Connection | None = None
        self._key: tuple[int, int] | None = None
        self._held = False

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            schema = conn.execute(text("SELECT current_schema()")).scalar_one() or "public"
            self._key = (_PG_LOCK_CLASS, _signed32(zlib.crc32(schema.encode())))
            self.description = f"advisory lock on {self.db.display_url} (schema {schema})"
            self._conn = conn
        return self._conn

    def try_acquire(self) -> bool:
        if self._held:
            return True
        try:
            conn = self._connection()
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:a, :b)"), self._params()
            ).scalar_one()
        except SQLAlchemyError as exc:
            log.warning("cannot try the leader lock: %s", driver_message(exc))
            self._drop()
            return False
        self._held = bool(got)
        return self._held

    def held(self) -> bool:
        if not self._held or self._conn is None:
            return False
        try:
            count = self._conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND pid = pg_backend_pid() AND classid::bigint = :a AND objid::bigint = :b"
                ),
                {"a": self._params()["a"] & 0xFFFFFFFF, "b": self._params()["b"] & 0xFFFFFFFF},
            ).scalar_one()
        except SQLAlchemyError as exc:
            log.error("the leader lock's connection failed: %s", driver_message(exc))
            self._drop()
            return False
        if not count:
            self._held = False
        return self._held

    def release(self) -> None:
        if self._conn is not None and self._held:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), self._params())
            except SQLAlchemyError as exc:
                log.warning("cannot release the leader lock: %s", driver_message(exc))
        self._drop()

    def _params(self) -> dict[str, int]:
        assert self._key is not None
        return {"a": self._key[0], "b": self._key[1]}

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held = False
        if conn is not None:
            try:
                conn.invalidate()  # never hand a connection holding the lock back to the pool
                conn.close()
            except SQLAlchemyError:
                pass


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= 1 << 31 else value
