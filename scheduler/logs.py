"""Logging, configured once, by the command line: one line per event on stderr."""

from __future__ import annotations

import json
import logging
import sys
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


def setup_logging(level: str = "WARNING", fmt: str = "text", third_party: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    quiet = max(logging.getLevelName(third_party.upper()), logging.getLevelName(level.upper()))
    handler.addFilter(OneLine(verbose=level.upper() == "DEBUG", third_party_level=quiet))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(
            max(logging.getLevelName(third_party.upper()), logging.getLevelName(level.upper()))
        )
