"""Articles per site and Beijing day of first storing (``site_article_days``): every insert
of articles adds rows in the inserting transaction (one per site, summed when read), so counts
never drift from the table (no path deletes articles) and writers never wait on a shared
counter row.  What the sites page and ``govwatch sites`` show reads a few rows per site and
day here, however many articles are stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from storage.models import SiteArticleDay

BEIJING = timezone(timedelta(hours=8))


def beijing_day(when: datetime) -> date:
    return when.astimezone(BEIJING).date()


def count_new_articles(session: Session, site_ids: Iterable[int], first_seen: datetime) -> None:
    """Add articles just inserted (one site id each), all first seen at ``first_seen``: a new
    row per site, never an update, so concurrent writers of one site do not wait on a row."""
    counts = Counter(site_ids)
    if not counts:
        return
    day = beijing_day(first_seen)
    session.execute(
        insert(SiteArticleDay),
        [
            {"site_id": site, "day": day, "articles": n, "last_first_seen": first_seen}
            for site, n in sorted(counts.items())
        ],
    )


def article_counts(session: Session, site_ids: Sequence[int]) -> dict[int, int]:
    """Site id -> articles stored."""
    stmt = (
        select(SiteArticleDay.site_id, func.sum(SiteArticleDay.articles))
        .where(SiteArticleDay.site_id.in_(site_ids))
        .group_by(SiteArticleDay.site_id)
    )
    return {site: int(n or 0) for site, n in session.execute(stmt)}
