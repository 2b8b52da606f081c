"""Child processes of the service: start one, watch it, stop it at its time limit.

Each job runs ``govwatch ...`` (``python -m scheduler``) in a process of its own: Scrapy's
reactor cannot restart in one process, and a hung or leaking crawl must not take the
service with it.  A child runs in its own session, so a Ctrl-C on the service's terminal
reaches the service only, which then decides when its children stop.  Stopping is
polite first: SIGTERM to the child (Scrapy closes the spider and records the run), then
SIGKILL after ``kill_after`` seconds to its whole process group, and, once a stopped child has
ended, SIGKILL to what is left of its group: a browser it started goes with it.  A queue
worker's children die with the worker (``die_with_parent``: Linux's parent-death signal,
SIGKILL): a job retried elsewhere never races an orphan of a dead
worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

TIME_LIMIT = "time limit"
SHUTDOWN = "shutdown"


class SupervisorClosed(Exception):
    """The service is stopping: no new child is started."""


@dataclass(frozen=True, slots=True)
class ChildResult:
    """How a child ended: its exit status (negative: the signal that ended it), how long
    it ran, and whether the service stopped it (``stopped``: ``time limit`` or ``shutdown``)
    and had to kill it."""

    pid: int
    returncode: int
    seconds: float
    stopped: str | None
    killed: bool


@dataclass
class _Child:
    name: str
    popen: subprocess.Popen[bytes]
    started: float
    stopped: str | None = None
    killed: bool = False


class Supervisor:
    """Starts and watches the service's child processes; stops them on request."""

    def __init__(
        self, base_argv: Sequence[str], kill_after: float, *, die_with_parent: bool = False
    ) -> None:
        self.base_argv = tuple(base_argv)
        self.kill_after = kill_after
        self._preexec = _parent_death_signal(os.getpid()) if die_with_parent else None
        self._children: dict[int, _Child] = {}
        self._closed = False
        self._lock = threading.Condition()

    def running(self) -> list[str]:
        with self._lock:
            return [c.name for c in self._children.values()]

    def run(
        self,
        name: str,
        argv: Sequence[str],
        time_limit: float,
        on_start: Callable[[int], None] | None = None,
    ) -> ChildResult:
        """Run ``base_argv + argv`` to its end, stopping it at ``time_limit`` seconds.

        Blocks the calling (job) thread.  Raises :class:`SupervisorClosed` when the service
        is stopping and ``OSError`` when the process cannot be started.
        """
        with self._lock:
            if self._closed:
                raise SupervisorClosed(name)
            popen = subprocess.Popen(
                [*self.base_argv, *argv],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=None,  # the child logs one line per event to the service's stderr
                start_new_session=True,
                close_fds=True,
                preexec_fn=self._preexec,
            )
            child = _Child(name=name, popen=popen, started=time.monotonic())
            self._children[popen.pid] = child
        try:
            if on_start is not None:
                on_start(popen.pid)
            try:
                popen.wait(timeout=time_limit)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s: pid %d still running at its time limit (%gs): stopping it",
                    name,
                    popen.pid,
                    time_limit,
                )
                self._stop(child, TIME_LIMIT)
                self._reap(child, self.kill_after)
            popen.wait()
        finally:
            if popen.poll() is None:  # only on an unexpected error here: leave no orphan
                _signal_group(popen, signal.SIGKILL)
                popen.wait()
            if child.stopped is not None:  # what the child left of its group (a browser)
                _signal_group(popen, signal.SIGKILL)
            with self._lock:
                self._children.pop(popen.pid, None)
                self._lock.notify_all()
        return ChildResult(
            pid=popen.pid,
            returncode=popen.returncode,
            seconds=time.monotonic() - child.started,
            stopped=child.stopped,
            killed=child.killed,
        )

    def close(self) -> None:
        """Refuse new children from now on (the service is stopping)."""
        with self._lock:
            self._closed = True

    def reopen(self) -> None:
        """Accept new children again (the service leads again after standing by)."""
        with self._lock:
            self._closed = False

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no child runs, at most ``timeout`` seconds; True when none runs."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._children:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    def stop_all(self, reason: str) -> None:
        """SIGTERM every child, then SIGKILL those still running after ``kill_after``."""
        with self._lock:
            children = list(self._children.values())
        for child in children:
            self._stop(child, reason)
        deadline = time.monotonic() + self.kill_after
        for child in children:
            self._reap(child, max(0.0, deadline - time.monotonic()))

    def _stop(self, child: _Child, reason: str) -> None:
        with self._lock:
            if child.stopped is None:
                child.stopped = reason
        if child.popen.poll() is None:
            log.info("%s: sending SIGTERM to pid %d (%s)", child.name, child.popen.pid, reason)
            with contextlib.suppress(ProcessLookupError):
                child.popen.terminate()  # the child stops its own helpers (extraction workers)

    def _reap(self, child: _Child, timeout: float) -> None:
        try:
            child.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "%s: pid %d ignored SIGTERM for %gs: killing it",
                child.name,
                child.popen.pid,
                self.kill_after,
            )
            child.killed = True
            _signal_group(child.popen, signal.SIGKILL)
            child.popen.wait()


def _signal_group(popen: subprocess.Popen[bytes], signum: int) -> None:
    """Send ``signum`` to the child's process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(popen.pid, signum)


_PR_SET_PDEATHSIG = 1


def _parent_death_signal(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` asking Linux to SIGKILL the child when its parent dies (None where
    there is no ``prctl``).  The function is looked up here, before any fork: the child
    only calls it."""
    if not sys.platform.startswith("linux"):
        return None
    path = ctypes.util.find_library("c")
    try:
        prctl = ctypes.CDLL(path, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was made
            os._exit(137)

    return preexec


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True
