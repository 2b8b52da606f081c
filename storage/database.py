"""Engine and session factory: how govwatch connects to SQLite or PostgreSQL."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from storage.errors import StorageError
from storage.urls import check_url, hide_password

if TYPE_CHECKING:  # the ORM is imported on the first session: `status` runs without it
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``, for messages and ``check-config``."""
    if isinstance(url, str):
        return hide_password(url)
    return url.render_as_string(hide_password=True)


def parse_url(url: str) -> URL:
    """Parse and check a database URL, with a clear error for the common mistakes
    (:func:`storage.urls.check_url`'s)."""
    backend = check_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StorageError(f"not a database URL: {mask_url(url)!r}") from exc
    if backend == "postgresql" and parsed.get_driver_name() not in ("psycopg", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


# Prepared statements the sqlite3 module keeps per connection (its default: 128).  Most of
# govwatch's statements are written once per batch size (multi-row INSERTs, IN lists), so
# the cache held prepared statements that were rarely run again: a crawl process's SQLite
# memory grew 2.1 -> 6.5 MB over 1,000 pages (flat at 2.1 MB without it); the store stage's
# CPU on 1,000 pages of copies did not grow (bench/README.md, "Issue 14, memory").
SQLITE_CACHED_STATEMENTS = 0


class Database:
    """One database: an engine, a session factory and its dialect name.

    ``read_only`` (the web view) opens it so that no statement can write: SQLite's
    ``PRAGMA query_only`` on every connection (and a missing file is an error, not a new
    database), PostgreSQL sessions with ``default_transaction_read_only``.  With
    ``statement_timeout`` a statement running longer is cancelled (PostgreSQL's
    ``statement_timeout``; on SQLite a progress handler interrupts it).
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        read_only: bool = False,
        statement_timeout: float | None = None,
    ) -> None:
        self.url = parse_url(url)
        self.read_only = read_only
        kwargs: dict[str, Any] = {"echo": echo, "future": True}
        if self.is_sqlite:
            if read_only:
                _require_sqlite_file(self.url)
            else:
                _ensure_sqlite_directory(self.url)
            kwargs["connect_args"] = {"timeout": 30, "cached_statements": SQLITE_CACHED_STATEMENTS}
        else:
            kwargs["pool_pre_ping"] = True
            options = []
            if read_only:
                options.append("-c default_transaction_read_only=on")
            if statement_timeout is not None:
                options.append(f"-c statement_timeout={max(1, round(statement_timeout * 1000))}")
            if options:
                given = self.url.query.get("options")  # e.g. a search_path: kept
                if isinstance(given, str) and given:
                    options.insert(0, given)
                kwargs["connect_args"] = {"options": " ".join(options)}
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise StorageError(f"cannot use database {self.display_url}: {exc}") from exc
        if not self.is_sqlite:
            # a batch of rows without RETURNING (validators, a run's site days) goes as one
            # multi-row INSERT, as those with RETURNING do, not one statement per row (the
            # crawl's largest batches, dedupe bands and link references, are unnest()s:
            # storage.repository.common.pg_insert_columns)
            self.engine.dialect.use_insertmanyvalues_wo_returning = True
        else:
            if read_only:
                event.listen(self.engine, "connect", _set_sqlite_read_only)
            else:
                event.listen(self.engine, "connect", _set_sqlite_pragmas)
            if statement_timeout is not None:
                _bound_sqlite_statements(self.engine, statement_timeout)
        self._sessions: sessionmaker[Session] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def display_url(self) -> str:
        return mask_url(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error.

        Database errors come out as :class:`StorageError` with one readable line.
        """
        if self._sessions is None:
            from sqlalchemy.orm import sessionmaker

            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StorageError(describe_db_error(exc, self.display_url)) from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A Core connection in a transaction (committed on success), for the commands that
        need no ORM (``status``); errors as in :meth:`session`."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(describe_db_error(exc, self.display_url)) from exc

    def limit_sqlite_cache(self, kib: int) -> None:
        """Cache at most ``kib`` KiB of database pages per SQLite connection (``PRAGMA
        cache_size``; SQLite's default is 2,000 KiB), on the connections opened from now on:
        the pooled ones are closed.  Nothing on PostgreSQL.

        For a long-running process whose queries each read a few pages (the service): a
        connection's cache otherwise keeps filling as the database grows, and a pool of
        them, used in turn by short-lived threads, fragments the allocator's arenas.
        """
        if kib < 1:
            raise ValueError(f"an SQLite page cache of {kib} KiB")
        if not self.is_sqlite:
            return
        pragma = f"PRAGMA cache_size=-{kib}"  # negative: KiB, whatever the page size

        def on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(pragma)
            finally:
                cursor.close()

        event.listen(self.engine, "connect", on_connect)
        self.engine.dispose()  # connections opened before (the migrations') hold the default

    def dispose(self) -> None:
        self.engine.dispose()


def describe_db_error(exc: SQLAlchemyError, where: str) -> str:
    """One line for a database error: the driver's first line, not the SQL and parameters."""
    return f"database error on {where}: {driver_message(exc)}"


def driver_message(exc: BaseException) -> str:
    """The first line of the driver's message of a database error (of ``exc`` itself when
    it wraps none), or the error's class name when the message is empty."""
    orig = getattr(exc, "orig", None)
    detail = str(orig if orig is not None else exc).strip().splitlines()
    return detail[0] if detail else type(exc).__name__


def _ensure_sqlite_directory(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the directory for {database}: {exc}") from exc


def _require_sqlite_file(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    if not Path(database).expanduser().is_file():
        raise StorageError(f"no database at {database}: create it with 'govwatch init'")


def _set_sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA query_only=ON")
    finally:
        cursor.close()


def _bound_sqlite_statements(engine: Engine, seconds: float) -> None:
    """Interrupt a SQLite statement running longer than ``seconds`` (it fails with
    "interrupted"): a progress handler, checked every few thousand virtual-machine steps,
    against a deadline set when each statement starts and lifted when its execution returns
    (so a commit or rollback later is never interrupted)."""

    def on_connect(dbapi_connection: Any, record: Any) -> None:
        info = record.info  # lives as long as this connection in the pool
        info["deadline"] = math.inf

        def past_deadline() -> int:
            return 1 if time.monotonic() > info.get("deadline", math.inf) else 0

        dbapi_connection.set_progress_handler(past_deadline, 10_000)

    def before_execute(conn: Any, *_args: Any) -> None:
        conn.connection.info["deadline"] = time.monotonic() + seconds

    def after_execute(conn: Any, *_args: Any) -> None:
        conn.connection.info["deadline"] = math.inf

    event.listen(engine, "connect", on_connect)
    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "after_cursor_execute", after_execute)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()
