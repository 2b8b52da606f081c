"""Article extraction off the reactor thread: worker processes parse while Scrapy fetches.

A crawl is one Twisted reactor on one thread, and with one request per host at a time the
reactor spends its life alternating between fetching and parsing.  Handing the parsing
(extraction and fingerprints, the CPU-heavy part of the pipeline) to a worker process lets
the next page download while the last one is parsed, on a second core.  With
``extract_workers = 0`` (or when a worker dies) the same work runs in the crawl process.
The work itself is :func:`crawler.extraction.extract_page`: a worker imports only that.

Hand-written instead of :class:`concurrent.futures.ProcessPoolExecutor`: the executor talks
to its workers through two threads of the crawl process (a queue feeder that writes each page
to the worker's pipe, a manager that reads the answers), and at every page they and the
reactor's thread took the interpreter's lock from one another (py-spy over a 3,000-page crawl:
the reactor's thread waited on the lock after its own socket writes, the worker waited for its
next page).  Here each worker has a socket that the reactor itself writes and reads, as it
does its HTTP connections: no thread in the crawl process, a few pages in flight per worker
(one being extracted, the next ones already in its socket), the rest waiting in the crawl
process until a worker answers.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from crawler.extract.records import Selectors
from crawler.extraction import Extraction, extract_page, lower_priority, quiet_worker, warm_up

if TYPE_CHECKING:  # Twisted is imported on the first page: the worker is forked without it
    from twisted.internet.defer import Deferred
    from twisted.internet.tcp import Connection
    from twisted.python.failure import Failure

log = logging.getLogger(__name__)

IN_FLIGHT = 3  # pages sent to one worker and not answered: one extracted, two in its socket
_HEADER = struct.Struct("!I")  # a message's length, then its pickle
_MAX_MESSAGE = 1 << 30
_REAP_SECONDS = 5.0  # a worker still running this long after its socket closed is killed

_Page = tuple[bytes, str, "str | None", "Selectors | None"]


@dataclass(eq=False)
class _Task:
    page: _Page
    done: Deferred[Extraction]


@dataclass(eq=False)
class _Worker:
    """A worker process and the crawl process's end of its socket."""

    pid: int
    sock: socket.socket
    transport: Connection | None = None  # the socket in the reactor, from the first page
    sent: deque[_Task] = field(default_factory=deque)  # in the order the worker answers
    buffer: bytearray = field(default_factory=bytearray)


class PageExtractor:
    """Runs :func:`extract_page` in ``workers`` worker processes (0: in this process).

    Workers are forked only while this process has one thread (no lock can be held by
    another thread at the fork); the crawl command creates its extractor first, before
    Scrapy is imported and before any thread starts.  Created later, it extracts in this
    process.  With workers, this process then lowers its priority by ``defer`` nice levels
    (``[crawl] defer_to_workers``): the workers, the crawl's bottleneck when cores are few,
    get a core first.
    """

    def __init__(self, workers: int, defer: int = 0) -> None:
        self._workers: list[_Worker] = []
        self._waiting: deque[_Task] = deque()  # for a worker with room
        self._stopping: bool | None = None  # None: not watching the reactor's shutdown yet
        if workers > 0 and threading.active_count() > 1:
            log.warning("extraction in the crawl process: created with threads running")
            workers = 0
        if workers > 0:
            # nothing buffered is written twice, and the collector never touches (so
            # copies) the objects the workers share with this process
            sys.stdout.flush()
            sys.stderr.flush()
            gc.freeze()
        for _ in range(workers):
            worker = _fork_worker([w.sock for w in self._workers])
            if worker is None:
                break
            self._workers.append(worker)
        if self._workers:  # the workers keep this process's priority; it yields to them
            lower_priority(defer)

    def warm_up(self) -> None:
        """Have the workers import the extractor now: called once the database is open, so
        that this import does not compete with the crawl's and the database's start-up for
        the cores, and is done as the first article page comes."""
        for worker in self._workers:
            if worker.transport is None:  # before the reactor runs: a few bytes, never waits
                with contextlib.suppress(OSError):
                    worker.sock.sendall(_frame(("warm_up",)))

    def extract(
        self, body: bytes, url: str, content_type: str | None, selectors: Selectors | None
    ) -> Deferred[Extraction]:
        """A Deferred that fires with the page's :class:`Extraction` (or its error)."""
        page: _Page = (body, url, content_type, selectors)
        if not self._workers:
            return _local(page)
        from twisted.internet.defer import Deferred

        task = _Task(page, Deferred())
        worker = self._least_busy()
        if len(worker.sent) < IN_FLIGHT:
            self._send(worker, task)
        else:
            self._waiting.append(task)
        return task.done

    def _least_busy(self) -> _Worker:
        return min(self._workers, key=lambda w: len(w.sent))

    def _send(self, worker: _Worker, task: _Task) -> None:
        if worker.transport is None:
            worker.transport = self._adopt(worker)
        worker.sent.append(task)
        worker.transport.write(_frame(("extract", *task.page)))

    def _adopt(self, worker: _Worker) -> Connection:
        from twisted.internet import reactor as running
        from twisted.internet.protocol import Factory, Protocol

        reactor: Any = running  # (its zope interfaces do not type-check as methods)

        extractor = self
        if self._stopping is None:  # the reactor drops every connection as it stops
            self._stopping = False
            reactor.addSystemEventTrigger("before", "shutdown", self._stop)

        class Answers(Protocol):
            def dataReceived(self, data: bytes) -> None:
                extractor._received(worker, data)

            def connectionLost(self, reason: Failure | None = None) -> None:
                extractor._lost(worker, reason)

        worker.sock.setblocking(False)
        # a unix.Server, a tcp.Connection: it writes what the reactor cannot send at once later
        transport: Connection = reactor.adoptStreamConnection(
            worker.sock.fileno(), socket.AF_UNIX, Factory.forProtocol(Answers)
        )
        return transport

    def _stop(self) -> None:
        self._stopping = True

    def _received(self, worker: _Worker, data: bytes) -> None:
        buffer = worker.buffer
        buffer += data
        while len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            end = _HEADER.size + size
            if len(buffer) < end:
                return
            with memoryview(buffer) as view:  # released before the buffer shrinks
                ok, value = pickle.loads(view[_HEADER.size : end])
            del buffer[:end]
            task = worker.sent.popleft()
            if self._waiting:
                self._send(worker, self._waiting.popleft())
            if ok:
                task.done.callback(value)
            else:
                task.done.errback(value)

    def _lost(self, worker: _Worker, reason: Failure | None) -> None:
        """A worker gone (killed, crashed): its pages, and the waiting ones if it was the
        last, are extracted here; nothing is lost."""
        if worker not in self._workers or self._stopping:
            return  # closed by us, or by the reactor as it stops: close() ends it
        self._workers.remove(worker)
        worker.sock.close()
        how = _reap(worker, grace=0.5)  # dead already, or no longer to be trusted
        if how == "running" and reason is not None:
            how = reason.getErrorMessage()
        left = len(self._workers)
        log.warning(
            "extraction worker failed (pid %d, %s): %s",
            worker.pid,
            how,
            f"{left} worker(s) left" if left else "extracting in the crawl process",
        )
        orphans = list(worker.sent)
        worker.sent.clear()
        if not self._workers:
            orphans += self._waiting
            self._waiting.clear()
        for task in orphans:
            if self._workers:
                self._send(self._least_busy(), task)
            else:
                _local(task.page).chainDeferred(task.done)

    def close(self) -> None:
        """End the workers (each finishes its page, reads the end of its socket and exits)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            if worker.transport is not None:
                with contextlib.suppress(Exception):
                    worker.transport.socket.close()
            worker.sock.close()
        for worker in workers:
            if _reap(worker) == "running":
                log.warning("extraction worker %d did not end: killed", worker.pid)


def _local(page: _Page) -> Deferred[Extraction]:
    from twisted.internet.defer import fail, succeed

    try:
        return succeed(extract_page(*page))
    except Exception as exc:  # handed to the callback's errback like a worker's error
        return fail(exc)


def _frame(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def _fork_worker(others: list[socket.socket]) -> _Worker | None:
    """Fork a worker that extracts the pages sent on its socket; None if the fork failed."""
    if not hasattr(os, "fork"):
        return None
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    crawl_pid = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        log.warning("no extraction worker (%s): extracting in the crawl process", exc)
        ours.close()
        theirs.close()
        return None
    if pid == 0:  # the worker: never returns
        code = 1
        try:
            ours.close()
            for sock in others:  # the other workers' ends: their EOF is theirs alone
                sock.close()
            quiet_worker(crawl_pid)
            _serve(theirs)
            code = 0
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    theirs.close()
    return _Worker(pid, ours)


def _serve(sock: socket.socket) -> None:
    """A worker's life: answer each message on ``sock`` until the crawl process closes it."""
    reader = sock.makefile("rb")
    while True:
        header = reader.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return  # the crawl process closed its end (or is gone)
        (size,) = _HEADER.unpack(header)
        if size > _MAX_MESSAGE:
            return
        message = pickle.loads(reader.read(size))
        if message[0] == "warm_up":
            warm_up()
            continue
        try:
            data = _frame((True, extract_page(*message[1:])))
        except Exception as exc:
            data = _error_frame(exc)
        sock.sendall(data)


def _error_frame(exc: Exception) -> bytes:
    """``exc`` as an answer; one that does not survive pickling is said as one line."""
    try:
        data = _frame((False, exc))
        pickle.loads(data[_HEADER.size :])
    except Exception:
        return _frame((False, RuntimeError(f"{type(exc).__name__}: {exc}")))
    return data


def _reap(worker: _Worker, grace: float = _REAP_SECONDS) -> str:
    """Wait for a worker that was told to end (its socket closed), killing one still running
    after ``grace`` seconds; how it ended (``running`` if it had to be killed)."""
    deadline = time.monotonic() + grace
    try:
        while True:
            pid, status = os.waitpid(worker.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.kill(worker.pid, signal.SIGKILL)
                os.waitpid(worker.pid, 0)
                return "running"
            time.sleep(0.005)
    except ChildProcessError:  # reaped elsewhere
        return "gone"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with {os.waitstatus_to_exitcode(status)}"
