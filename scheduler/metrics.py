"""``/metrics``: the Prometheus text exposition format (version 0.0.4), written by hand.

Counts come from the database (so every replica, leader or standby, reports the same
totals); gauges about the process come from the service.  Families from other areas
(link states, digest deliveries) are added by passing more :class:`Family` values.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from crawler.blocking import blocked_reason
from storage import repository
from storage.database import Database
from storage.errors import GovwatchError
from storage.records import MetricsSnapshot

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family: its name, type (counter or gauge), help and samples."""

    name: str
    type: str
    help: str
    samples: tuple[tuple[Labels, float], ...]


def service_text(db: Database, *, leader: bool, started_at: float, running: Sequence[str]) -> str:
    """The service's whole ``/metrics`` page; a database that does not answer is a gauge."""
    families = service_families(leader=leader, started_at=started_at, running=running)
    db_up = True
    try:
        with db.session() as session:
            families += database_families(session)
    except GovwatchError as exc:
        log.warning("metrics: %s", exc)
        db_up = False
    families.append(
        family(
            "govwatch_database_up",
            "gauge",
            "1 when the database answered this scrape.",
            [((), int(db_up))],
        )
    )
    families += process_families()
    return render(families)


def family(
    name: str, type_: str, help_: str, samples: Iterable[tuple[Labels, float]] = ()
) -> Family:
    if not _NAME.match(name) or type_ not in ("counter", "gauge"):
        raise ValueError(f"bad metric {name!r} of type {type_!r}")
    return Family(name, type_, help_, tuple(samples))


def service_families(*, leader: bool, started_at: float, running: Sequence[str]) -> list[Family]:
    """Gauges of this ``govwatch run`` process: its role, start and job processes."""
    crawls = sum(name.startswith("crawl:") for name in running)
    digests = sum(name.startswith("digest:") for name in running)  # in-process runs
    return [
        family(
            "govwatch_service_leader",
            "gauge",
            "1 when this govwatch run leads the schedule, 0 while it stands by.",
            [((), int(leader))],
        ),
        family(
            "govwatch_service_start_time_seconds",
            "gauge",
            "Unix time when this govwatch run started.",
            [((), started_at)],
        ),
        family(
            "govwatch_jobs_running",
            "gauge",
            "Jobs running now, by kind (crawl and other: processes; digest: in the service).",
            [
                ((("kind", "crawl"),), crawls),
                ((("kind", "digest"),), digests),
                ((("kind", "other"),), len(running) - crawls - digests),
            ],
        ),
    ]


def database_families(session: Session) -> list[Family]:
    """Every family counted in the database."""
    return snapshot_families(repository.metrics_snapshot(session))


def snapshot_families(snapshot: MetricsSnapshot) -> list[Family]:
    """The database's totals as metric families."""
    return [
        family(
            "govwatch_crawl_runs_total",
            "counter",
            "Crawl runs recorded, by site and outcome (running, succeeded, warning, partial, "
            "blocked, failed, interrupted).",
            [((("site", s), ("outcome", o)), n) for s, o, n in snapshot.runs],
        ),
        family(
            "govwatch_site_blocked",
            "gauge",
            "1 for a site whose newest finished run was blocked by the site's guard, by reason "
            "(captcha, JavaScript challenge unsolved, cookie expired, rate limited, access "
            "refused): the site is up and refuses the crawler.",
            [
                ((("site", s), ("reason", blocked_reason(m) or "other")), 1)
                for s, o, m in snapshot.last_runs
                if o == "blocked"
            ],
        ),
        family(
            "govwatch_articles",
            "gauge",
            "Articles stored, by site.",
            [((("site", s),), n) for s, n in snapshot.articles],
        ),
        family(
            "govwatch_articles_new_total",
            "counter",
            "Articles stored as new by crawl runs, by site.",
            [((("site", s),), n) for s, n in snapshot.new_articles],
        ),
        family(
            "govwatch_crawl_errors_total",
            "counter",
            "Pages that crawl runs could not fetch or parse (after retries), by site.",
            [((("site", s),), n) for s, n in snapshot.errors],
        ),
        family(
            "govwatch_last_success_timestamp_seconds",
            "gauge",
            "Unix time when the newest succeeded (or warning) run of the site ended.",
            [((("site", s),), t.timestamp()) for s, t in snapshot.last_success],
        ),
        family(
            "govwatch_missed_runs_total",
            "counter",
            "Scheduled runs that did not run, by job and reason (misfire, overlap, busy, "
            "downtime, shutdown, error); kept for [service] history_days.",
            [((("job", j), ("reason", r)), n) for j, r, n in snapshot.missed],
        ),
        family(
            "govwatch_links",
            "gauge",
            "Links found on crawled pages, by status (ok, redirected, dead, soft_404, error, "
            "blocked, ...).",
            [((("status", st),), n) for st, n in snapshot.links],
        ),
        family(
            "govwatch_digest_deliveries",
            "gauge",
            "Digest deliveries, by state (pending, retrying, sending, delivered, failed).",
            [((("state", st),), n) for st, n in snapshot.deliveries],
        ),
    ]


def process_families() -> list[Family]:
    """Standard process metrics of this process (Linux ``/proc``; empty elsewhere)."""
    try:
        statm = Path("/proc/self/statm").read_text(encoding="ascii")
        resident_pages = int(statm.split()[1])
    except (OSError, ValueError, IndexError):
        return []
    rss = resident_pages * os.sysconf("SC_PAGE_SIZE")
    return [family("process_resident_memory_bytes", "gauge", "Resident memory size.", [((), rss)])]


def render(families: Sequence[Family]) -> str:
    """The exposition text: ``# HELP``, ``# TYPE`` and one line per sample."""
    lines: list[str] = []
    for fam in families:
        lines.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        lines.append(f"# TYPE {fam.name} {fam.type}")
        for labels, value in fam.samples:
            lines.append(f"{fam.name}{_labels(labels)} {_number(value)}")
    return "\n".join(lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels)
    return "{" + inner + "}"


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if value != value:  # NaN
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))
