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


def setup_logging(level: str = "WARNING", fmt: str = "text", third_party: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _QUIET:
        logging.getLogger(name).setLevel(
            max(logging.getLevelName(third_party.upper()), logging.getLevelName(level.upper()))
        )
