"""Small jobs run inside the service's process: each run on a thread of its own, bounded.

A digest run is a few queries and a few sends; a process of its own for it cost about 2 s and
90 MB each time (mostly imports).  Here it runs on a daemon thread, and the scheduler's job
thread waits for it at most ``time_limit`` seconds.  A thread cannot be killed, so a run
still going at its limit (or at the service's shutdown) is *left behind*: told to stop
(``Run.cancelled``, which the work checks before each step that sends), no longer waited for,
and no second run of the same job starts while it lives.  The service stops or goes on
regardless; a daemon thread never keeps the process alive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

# How a run ended.
DONE = "done"  # the work returned
RAISED = "raised"  # the work raised (``error`` says what)
TIME_LIMIT = "time limit"  # still running at its time limit: left behind
SHUTDOWN = "shutdown"  # still running when the service stopped waiting: left behind


class Busy(Exception):
    """The job's previous run is still running (left behind at its time limit)."""


class Closed(Exception):
    """The service is stopping: no new run starts."""


@dataclass
class Run:
    """One run of an in-process job; ``cancelled`` is set when it is left behind."""

    name: str
    cancelled: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    value: tuple[str, str] = ("", "")
    error: BaseException | None = None

    def go_on(self) -> bool:
        """Whether the work may take its next step (it was not left behind)."""
        return not self.cancelled.is_set()


@dataclass(frozen=True, slots=True)
class RunResult:
    ended: str  # DONE, RAISED, TIME_LIMIT or SHUTDOWN
    value: tuple[str, str]  # what the work returned: (result, one-line message)
    error: BaseException | None
    seconds: float


class InProcessJobs:
    """Runs the service's in-process jobs; called from the scheduler's job threads."""

    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}  # live threads, by job name (one at most per job)
        self._closed = False
        self._abandon = threading.Event()  # set at shutdown, past the grace time
        self._lock = threading.Condition()

    def running(self) -> list[str]:
        with self._lock:
            return [name for name, run in self._runs.items() if not run.cancelled.is_set()]

    def run(
        self, name: str, work: Callable[[Run], tuple[str, str]], time_limit: float
    ) -> RunResult:
        """Run ``work`` on a thread of its own and wait for it, at most ``time_limit`` s.

        Raises :class:`Busy` while the job's last run, left behind, still runs, and
        :class:`Closed` when the service is stopping.
        """
        with self._lock:
            if self._closed:
                raise Closed(name)
            if name in self._runs:
                raise Busy(name)
            run = Run(name)
            self._runs[name] = run
        started = time.monotonic()
        thread = threading.Thread(target=self._work, args=(run, work), name=name, daemon=True)
        thread.start()
        deadline = started + time_limit
        while not run.finished.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
            if self._abandon.is_set() or time.monotonic() >= deadline:
                ended = SHUTDOWN if self._abandon.is_set() else TIME_LIMIT
                run.cancelled.set()
                log.warning(
                    "job %s: still running after %.1fs (%s): left to end on its own; it "
                    "sends nothing more",
                    name,
                    time.monotonic() - started,
                    ended,
                )
                return RunResult(ended, ("", ""), None, time.monotonic() - started)
        ended = DONE if run.error is None else RAISED
        return RunResult(ended, run.value, run.error, time.monotonic() - started)

    def _work(self, run: Run, work: Callable[[Run], tuple[str, str]]) -> None:
        try:
            run.value = work(run)
        except BaseException as exc:  # reported by the waiting job thread
            run.error = exc
        finally:
            with self._lock:
                self._runs.pop(run.name, None)
                self._lock.notify_all()
            run.finished.set()

    def close(self) -> None:
        """Refuse new runs from now on (the service is stopping)."""
        with self._lock:
            self._closed = True

    def reopen(self) -> None:
        """Accept new runs again (the service leads again after standing by)."""
        with self._lock:
            self._closed = False
        self._abandon.clear()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is going, at most ``timeout`` seconds; True when none is."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self.running():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(min(remaining, 0.2))
            return True

    def abandon_all(self) -> None:
        """Stop waiting for running runs: each is told to stop and left behind."""
        self._abandon.set()
        with self._lock:
            for run in self._runs.values():
                run.cancelled.set()
