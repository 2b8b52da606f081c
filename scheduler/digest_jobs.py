"""The service's digest jobs, run inside its own process (``scheduler.inprocess``).

One job per enabled ``[[digests]]``: build the digest when its ``schedule`` has come and send
its deliveries that are due, retries too (:func:`scheduler.digests.deliver_due`, what
``govwatch digest NAME --due`` runs).  The database decides what is due, so a run that is
late, early or repeated never builds a digest twice nor skips one.  After each run the job is
woken next at the earliest of: the digest's next due time, its next retry (or the end of a
lost send's lease), and ``[service] digest_schedule`` from now, to pick up what another
process left due (a failed ``govwatch digest NAME --send``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from digest.channels import Sender, sender_for
from digest.subscription import Channel
from scheduler.config import Config
from scheduler.digests import deliver_due, due_time
from storage import repository
from storage.database import Database
from storage.errors import GovwatchError

log = logging.getLogger(__name__)

_OPEN_STATES = ("pending", "retrying", "sending")
_SOONEST = timedelta(seconds=1)  # a job is never woken again sooner than this


class LeftBehind(GovwatchError):
    """The run was left behind (its time limit, the service's shutdown): no more sends."""


def run_digest(
    db: Database, config: Config, name: str, go_on: Callable[[], bool]
) -> tuple[str, str]:
    """Build digest ``name`` if due and send its due deliveries: ``(result, message)``.

    ``go_on`` is asked before each delivery is claimed: once it says no, nothing more is
    sent (a delivery being sent finishes and is recorded)."""

    def senders(channel: Channel) -> Sender:
        if not go_on():
            raise LeftBehind(f"digest {name}: left behind, sends nothing more")
        return sender_for(channel)

    reports = deliver_due(db, config, only=name, senders=senders)
    if not reports:
        return "ok", ""
    counts = Counter(report.outcome for report in reports)
    message = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    return ("failed" if counts["failed"] else "ok"), message


def next_wake(db: Database, config: Config, name: str, now: datetime) -> datetime | None:
    """When digest ``name``'s job should run next (``None``: leave its trigger's time)."""
    subscription = config.digest(name)
    if subscription is None:
        return None
    times: list[datetime] = []
    with db.session() as session:
        reference = repository.schedule_reference(session, name)
        open_deliveries = repository.list_deliveries(
            session, subscription=name, states=_OPEN_STATES, limit=100
        )
    if reference is not None:
        times.append(due_time(subscription.schedule, reference) or now + timedelta(days=366))
    for delivery in open_deliveries:
        at = delivery.lease_until if delivery.state == "sending" else delivery.next_attempt_at
        if at is not None:
            times.append(at)
    if config.service.digest_schedule:
        look = due_time(config.service.digest_schedule, now)
        if look is not None:
            times.append(look)
    if not times:
        return None
    return max(min(times), now + _SOONEST)
