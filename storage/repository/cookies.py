"""Cookies kept per host between crawl runs (cookie replay): load the live ones, save."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import HostCookie
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
