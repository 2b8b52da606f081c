"""A crawl's database writes on a thread of their own: the reactor never waits on the database.

Written in the reactor's thread, a batch of articles or links held the whole crawl while the
database worked: no response was read and no request sent meanwhile.  On PostgreSQL the
store stage of 300 pages spent 1.1 of its 1.8 s waiting for the server (the articles' TOAST,
the search index's pending list), on SQLite 0.2 of 0.7 s.  Here one thread does the writes,
in the order they were asked for; the database drivers let go of the interpreter while they
wait, so the reactor goes on crawling.  What a write returns is handed back to the reactor's
thread as a Deferred's result: the run's bookkeeping (its counters, its passes) stays on the
reactor's thread, and only the write itself runs on the writer's.

At most ``max_pending`` writes wait or run at once: :meth:`Writer.room` is a Deferred that
fires when there is room again, which the item pipeline hands back to Scrapy to slow the
crawl when the database is slower than the crawl (an outage: each write waits for its
timeout), instead of holding every batch in memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, DeferredList

T = TypeVar("T")

MAX_PENDING = 2  # writes waiting or running: one being written, one ready behind it


class Writer:
    """One thread that runs write functions in order, each answered by a Deferred."""

    def __init__(self, name: str, max_pending: int = MAX_PENDING) -> None:
        self.name = name
        self.max_pending = max_pending
        self._pool: ThreadPoolExecutor | None = None
        self._pending: deque[Deferred[Any]] = deque()

    def submit(self, write: Callable[[], T]) -> Deferred[T]:
        """Run ``write()`` on the writer's thread, after the writes submitted before it; the
        Deferred fires on the reactor's thread with its result (or its exception)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"govwatch-writer-{self.name}")
        done = deferred_from(self._pool.submit(write))
        self._pending.append(done)

        def settled(result: Any) -> Any:
            self._pending.remove(done)
            return result

        return done.addBoth(settled)

    def room(self) -> Deferred[None] | None:
        """None when another write may be submitted now; else a Deferred that fires when the
        oldest pending write has settled."""
        if len(self._pending) < self.max_pending:
            return None
        return _settled(self._pending[0])

    def drain(self) -> Deferred[None]:
        """A Deferred that fires when every write submitted so far has settled."""
        return DeferredList([_settled(d) for d in self._pending]).addCallback(lambda _: None)

    def close(self) -> None:
        """Wait for the writes and end the thread (after :meth:`drain`, nothing waits)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def deferred_from(future: Future[T]) -> Deferred[T]:
    """A Deferred fired on the reactor's thread when ``future`` (run on the writer's thread)
    completes, with its result or its exception.  Twisted converts asyncio's futures
    (``Deferred.fromFuture``), not these."""
    from twisted.internet import reactor  # the running reactor

    result: Deferred[T] = Deferred()

    def fire(done: Future[T]) -> None:
        exc = done.exception()
        if exc is not None:
            result.errback(exc)
        else:
            result.callback(done.result())

    future.add_done_callback(lambda done: reactor.callFromThread(fire, done))
    return result


def _settled(d: Deferred[Any]) -> Deferred[None]:
    """A Deferred that fires (with None) once ``d`` has, whatever ``d``'s result; ``d``'s own
    callbacks see its result unchanged."""
    waiter: Deferred[None] = Deferred()

    def pass_on(result: Any) -> Any:
        waiter.callback(None)
        return result

    d.addBoth(pass_on)
    return waiter
