"""Signals for the service's main thread: handlers only note the signal and wake the loop.

A Python signal handler runs between two bytecodes of the main thread, which may hold a
lock at that moment, so the handler does no more than append to a list and write a byte to a
pipe; :meth:`SignalInbox.wait` sleeps on that pipe (``select``), so a signal ends the sleep at
once, and returns the signals that arrived.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Any


class SignalInbox:
    """Catches ``signals`` while open (``with SignalInbox(...) as inbox``)."""

    def __init__(self, signals: Iterable[int]) -> None:
        self.signals = tuple(signals)
        self._received: list[int] = []
        self._previous: dict[int, Any] = {}
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def __enter__(self) -> SignalInbox:
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        os.close(self._read)
        os.close(self._write)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._received.append(signum)
        with contextlib.suppress(OSError):  # a full pipe already wakes the loop
            os.write(self._write, b"\0")

    def wait(self, timeout: float) -> set[int]:
        """Sleep up to ``timeout`` seconds or until a signal arrives; the signals received."""
        if not self._received:
            with contextlib.suppress(InterruptedError):
                select.select([self._read], [], [], timeout)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._read, 64):
                pass
        received, self._received = set(self._received), []
        return received
