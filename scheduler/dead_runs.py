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
from storage import repository
from storage.database import Database

log = logging.getLogger(__name__)


def close_dead_runs(db: Database, sites: list[str] | None = None) -> list[int]:
    """Close as ``interrupted`` the runs (of ``sites``, or all) whose process is gone."""
    host = socket.gethostname()
    closed: list[int] = []
    with db.session() as session:
        for run in repository.running_runs(session):
            if sites is not None and run.site not in sites:
                continue
            if run.pid is None or run.host not in (None, host) or pid_alive(run.pid):
                continue
            message = f"the crawl process (pid {run.pid}) is gone: it died or was killed"
            if repository.close_run(session, run.id, outcome="interrupted", message=message):
                log.warning("site %s run %d: interrupted: %s", run.site, run.id, message)
                closed.append(run.id)
    return closed
