"""Crawl runs left ``running`` by a process that is gone (a killed ``govwatch crawl``).

The service closes such runs on its own start and ticks; without a service, the next command
that opens the database does, so ``status`` and ``sites`` never show a dead run as running.
A run is closed only when its process ran on this host (its pid means something only here)
and no process has that pid any more.
"""

from __future__ import annotations

import logging
import socket

from scheduler.supervisor import pid_alive
from storage import status_reads
from storage.database import Database

log = logging.getLogger(__name__)


def close_dead_runs(db: Database, sites: list[str] | None = None) -> list[int]:
    """Close as ``interrupted`` the runs (of ``sites``, or all) whose process is gone."""
    host = socket.gethostname()
    closed: list[int] = []
    with db.connect() as conn:
        for run in status_reads.running_runs(conn):
            if sites is not None and run.site not in sites:
                continue
            if run.pid is None or run.host not in (None, host) or pid_alive(run.pid):
                continue
            message = f"the crawl process (pid {run.pid}) is gone: it died or was killed"
            if status_reads.close_run(conn, run.id, outcome="interrupted", message=message):
                log.warning("site %s run %d: interrupted: %s", run.site, run.id, message)
                closed.append(run.id)
    return closed
