"""The crawl command's database preparation in a forked child, beside Scrapy's import.

Before its first request a crawl process opens the database: on a database that is not at
the newest schema (a new one, an upgrade) that is SQLAlchemy's and Alembic's import and every
migration, 0.5-1 s of CPU.  The crawl command forks a child that does this while the parent
imports Scrapy and the crawl's modules (both are Python, so a thread would only take turns
with the parent for the interpreter lock; a child runs on the other core).  The parent then
opens the database itself, as before, finds it at the newest schema without Alembic, and
writes the sites' rows and closes the dead runs.

The child is forked before any thread starts and before the parent connects to the
database, so it inherits no lock held by another thread and no connection.  Its error of
govwatch's own (a database that cannot be reached, a schema newer than this govwatch) is
sent back and raised in the parent: the user sees the one line as without the child, and
an unreachable server is not waited for twice.  Whatever else it could not do (a killed
child) the parent's own opening does again and reports.
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable

from storage.errors import GovwatchError


def start_in_child(prepare: Callable[[], object]) -> Callable[[], None]:
    """Run ``prepare`` in a forked child; returns the function that waits for the child and
    raises its :class:`GovwatchError`, if it raised one.  Without ``os.fork``, nothing is
    started (the caller's own opening does the work)."""
    if not hasattr(os, "fork"):
        return lambda: None
    read_end, write_end = os.pipe()
    sys.stdout.flush()  # nothing buffered is written by both processes
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(prepare, write_end)
    os.close(write_end)

    def wait() -> None:
        with os.fdopen(read_end, "rb") as pipe:
            payload = pipe.read()
        os.waitpid(pid, 0)
        try:
            error = pickle.loads(payload) if payload else None
        except Exception:  # the parent's own opening reports it
            error = None
        if isinstance(error, GovwatchError):
            raise error

    return wait


def _child(prepare: Callable[[], object], write_end: int) -> None:
    code = 1
    try:
        try:
            prepare()
            code = 0
        except GovwatchError as exc:
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(pickle.dumps(exc))
        except BaseException:  # the parent does it again and reports it
            pass
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)
