"""One active scheduler per database: the leader lock of ``govwatch run``.

The lock and its SQL live in :mod:`storage.locks` (``storage`` is the only place with
queries); the service and the queue's deferral take it from here, under the scheduler's name.
"""

from __future__ import annotations

from storage.locks import FileLock, LeaderLock, NoLock, PgAdvisoryLock, leader_lock

__all__ = ["FileLock", "LeaderLock", "NoLock", "PgAdvisoryLock", "leader_lock"]
