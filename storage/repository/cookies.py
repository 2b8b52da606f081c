"""Cookies kept per host between crawl runs (cookie replay), and the browser User-Agent they
go with: load the live ones, save."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import HostAgent, HostCookie
from storage.records import StoredCookie
from storage.repository.common import IN_CHUNK, insert_for, utcnow


def live_cookies(
    session: Session, domains: Iterable[str], now: datetime | None = None
) -> list[StoredCookie]:
    """The unexpired cookies kept for any of ``domains`` (exact cookie-jar domains)."""
    wanted = sorted(set(domains))
    if not wanted:
        return []
    moment = now or utcnow()
    out: list[StoredCookie] = []
    for start in range(0, len(wanted), IN_CHUNK):
        rows = session.scalars(
            select(HostCookie)
            .where(HostCookie.domain.in_(wanted[start : start + IN_CHUNK]))
            .where(HostCookie.expires_at > moment)
            .order_by(HostCookie.domain, HostCookie.path, HostCookie.name)
        )
        out += [
            StoredCookie(
                domain=r.domain,
                path=r.path,
                name=r.name,
                value=r.value,
                expires_at=r.expires_at,
                secure=r.secure,
            )
            for r in rows
        ]
    return out


def save_cookies(
    session: Session, cookies: Iterable[StoredCookie], replace: Iterable[str] = ()
) -> int:
    """Insert or replace cookies, and delete every expired one; returns how many were written.

    ``replace``: domains whose kept cookies are exactly ``cookies`` from now on (a cookie the
    site deleted or that became a session cookie is deleted there too).
    """
    now = utcnow()
    latest = {(c.domain, c.path, c.name): c for c in cookies}
    domains = sorted(set(replace))
    for start in range(0, len(domains), IN_CHUNK):
        session.execute(
            delete(HostCookie).where(HostCookie.domain.in_(domains[start : start + IN_CHUNK]))
        )
    rows = [
        {
            "domain": c.domain,
            "path": c.path,
            "name": c.name,
            "value": c.value,
            "secure": c.secure,
            "expires_at": c.expires_at,
            "updated_at": now,
        }
        for c in latest.values()
    ]
    insert = insert_for(session)
    for start in range(0, len(rows), IN_CHUNK):
        stmt = insert(HostCookie)
        stmt = stmt.on_conflict_do_update(
            index_elements=[HostCookie.domain, HostCookie.path, HostCookie.name],
            set_={
                "value": stmt.excluded.value,
                "secure": stmt.excluded.secure,
                "expires_at": stmt.excluded.expires_at,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        session.execute(stmt, rows[start : start + IN_CHUNK])
    session.execute(delete(HostCookie).where(HostCookie.expires_at <= now))
    return len(rows)


def live_agent(session: Session, host: str, now: datetime | None = None) -> str | None:
    """The User-Agent kept for ``host`` with its browser cookies, while they live."""
    row = session.get(HostAgent, host)
    if row is None or row.expires_at <= (now or utcnow()):
        return None
    return row.user_agent


def save_agent(session: Session, host: str, user_agent: str, expires_at: datetime) -> None:
    """Keep the User-Agent a browser passed ``host``'s challenge with, until ``expires_at``
    (replacing the one kept before); expired ones are deleted."""
    now = utcnow()
    stmt = insert_for(session)(HostAgent).values(
        host=host, user_agent=user_agent, expires_at=expires_at, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[HostAgent.host],
            set_={
                "user_agent": stmt.excluded.user_agent,
                "expires_at": stmt.excluded.expires_at,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )
    session.execute(delete(HostAgent).where(HostAgent.expires_at <= now))
