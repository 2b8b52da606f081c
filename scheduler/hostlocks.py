"""One crawl at a time per host in the service: two sites on one host take turns.

The service runs each site's crawl in a process of its own (``scheduler.supervisor``), so
the crawl's process-wide pace per host (``crawler.guards.hostpace``) cannot see another site's
crawl of the same host; ccdi (``ccdi`` and ``ccdi-scdc`` are both on www.ccdi.gov.cn)
answers their overlapping requests with 420.  :class:`HostLocks` makes a crawl job wait,
before its process starts, until no other crawl job of the service holds any of its hosts.
Locks are taken in sorted order, so two jobs never wait on each other.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator


class HostLocks:
    """A lock per host name, shared by the service's job threads."""

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def _lock(self, host: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(host)
            if lock is None:
                lock = self._locks[host] = threading.Lock()
            return lock

    @contextlib.contextmanager
    def hold(self, hosts: Iterable[str]) -> Iterator[None]:
        """Hold every one of ``hosts`` (waiting for each in turn) for the ``with`` block."""
        with contextlib.ExitStack() as stack:
            for host in sorted(set(hosts)):
                stack.enter_context(self._lock(host))
            yield
