"""Logging, configured once, by the command line: one line per event on stderr."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

# Third-party loggers that speak too much at INFO.
_QUIET = ("scrapy", "twisted", "py.warnings", "alembic", "filelock", "asyncio", "apscheduler")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and exception text)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


_OURS = ("crawler", "storage", "scheduler", "digest")


class OneLine(logging.Filter):
    """Keeps each event on one line: other libraries' multi-line messages and tracebacks are
    cut to their first line unless the handler is at DEBUG level."""

    def __init__(self, verbose: bool, third_party_level: int) -> None:
        super().__init__()
        self.verbose = verbose
        self.third_party_level = third_party_level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in _OURS:
            return True
        if record.levelno < self.third_party_level:
            return False  # libraries reset their loggers' levels (Scrapy does): filter here
        if self.verbose:
            return True
        message = record.getMessage()
        first = message.strip().splitlines()[0] if message.strip() else message
        if record.exc_info and record.exc_info[1] is not None:
            first = f"{first} ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        record.msg, record.args = first, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


_DIGITS = re.compile(r"\d+")
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+")
_DATABASE_ERROR = "database error on "  # storage.database.describe_db_error's lines
REPEAT_WINDOW_SECONDS = 60.0


class Repeats(logging.Filter):
    """One line per distinct warning or error per ``window`` seconds.

    An outage makes every heartbeat, job and lock attempt fail the same way, many times a
    second; the first of a kind goes through, the same kind again (same logger, level and
    message, numbers aside; for a database error, URLs aside too: it is the same outage
    whichever page it hit) is held back until ``window`` seconds have passed, and the next
    line let through says how many were held back.  Info lines always go through.
    """

    def __init__(
        self, window: float = REPEAT_WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        message = record.getMessage()
        kind = _URL.sub("URL", message) if _DATABASE_ERROR in message else message
        key = (record.name, record.levelno, _DIGITS.sub("#", kind))
        now = self.clock()
        with self._lock:
            first, held = self._seen.get(key, (None, 0))
            if first is not None and now - first < self.window:
                self._seen[key] = (first, held + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 1000:  # forget kinds not seen for a window
                self._seen = {
                    k: v for k, v in self._seen.items() if now - v[0] < self.window or v[1]
                }
        if held:
            record.msg = f"{message} (and {held} more like it in the last {self.window:g}s)"
            record.args = None
        return True


def setup_logging(level: str = "WARNING", fmt: str = "text", third_party: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    quiet = max(logging.getLevelName(third_party.upper()), logging.getLevelName(level.upper()))
    handler.addFilter(OneLine(verbose=level.upper() == "DEBUG", third_party_level=quiet))
    handler.addFilter(Repeats())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(
            max(logging.getLevelName(third_party.upper()), logging.getLevelName(level.upper()))
        )
