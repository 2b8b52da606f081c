"""storage.locks: the leader lock (one ``govwatch run`` leads per database) and the migration
lock (one schema upgrade at a time), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from storage.database import Database
from storage.locks import _PG_MIGRATION_LOCK, leader_lock, lock_for_migration


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[Database, Database]]:
    """Two handles on one database, with engines of their own, as two processes have."""
    first, second = Database(database_url), Database(database_url)
    yield first, second
    first.dispose()
    second.dispose()


def test_one_leader_per_database(two: tuple[Database, Database]) -> None:
    first, second = leader_lock(two[0]), leader_lock(two[1])
    assert first.try_acquire()
    assert first.held() and first.try_acquire()  # taking it again is a no-op
    assert not second.try_acquire() and not second.held()
    first.release()
    assert not first.held()
    assert second.try_acquire() and second.held()
    assert not first.try_acquire()
    second.release()


def test_a_migration_waits_for_the_one_running(two: tuple[Database, Database]) -> None:
    if two[0].is_sqlite:
        pytest.skip("SQLite serialises writers itself: the lock is PostgreSQL's")
    first, second = two
    locked = threading.Event()

    def upgrade_beside() -> None:
        with second.engine.begin() as conn:
            lock_for_migration(conn)
            locked.set()

    with first.engine.begin() as conn:
        lock_for_migration(conn)
        beside = threading.Thread(target=upgrade_beside)
        beside.start()
        deadline = time.monotonic() + 30
        with first.engine.connect() as probe:  # the other upgrade is seen waiting for the lock
            while not probe.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND objid::bigint = :key"
                ),
                {"key": _PG_MIGRATION_LOCK},
            ).scalar_one():
                assert time.monotonic() < deadline, "the second upgrade never asked for the lock"
                probe.commit()
        assert not locked.is_set()
    beside.join(timeout=30)  # the first upgrade's transaction ended: the second one goes on
    assert locked.is_set()
