"""A total time limit for one exchange with a server, whatever the server does.

A socket timeout bounds each read, not the exchange: a server that drips its answer one
byte a second never trips a 3 s timeout.  :class:`Deadline` arms a timer; when it fires,
the watched socket is shut down, so whatever blocks on it returns at once, and
``expired`` tells the caller why.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class Deadline:
    """``with Deadline(seconds) as deadline: ... deadline.watch(sock) ...``"""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self._expired = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    @property
    def expired(self) -> bool:
        return self._expired.is_set()

    def remaining(self) -> float:
        """Seconds left (at least a millisecond: a socket timeout of 0 means non-blocking)."""
        return max(0.001, self._end - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has passed)."""
        if sock is None:
            return
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self._expired.set()
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed or never connected
        sock.shutdown(socket.SHUT_RDWR)
