"""Building a digest: what a subscription has not been told yet, read by database positions.

A window runs from the previous window's upper positions (or, the first time, from the
subscription's start) to positions read when the build starts (:func:`take_positions`).  An
article stored while a digest is being built has a larger id than that bound, so it lands
in the next window, never in none and never in two.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digest.records import Copy, Digest, DigestArticle, LinkChange, Page, SiteProblem
from digest.subscription import HealthThresholds, Subscription
from storage import repository
from storage.database import Database
from storage.digest_records import Positions, WindowArticle, WindowLinkEvent

log = logging.getLogger(__name__)

_SPACE = re.compile(r"\s+")
_SENTENCE_END = "。！？!?；;"


def take_positions(db: Database) -> Positions:
    """The upper bound of a window to build now, read in a transaction of its own."""
    with db.session() as session:
        return repository.read_positions(session)


def start_positions(
    session: Session, subscription: Subscription, *, now: datetime, record: bool
) -> Positions:
    """Where the subscription's next window starts: the last window's end, or its start."""
    last = repository.last_window(session, subscription.name)
    if last is not None:
        return last.upto
    since = now - timedelta(hours=subscription.backfill_hours)
    if record:
        return repository.ensure_subscription(
            session, subscription.name, now=now, backfill_since=since
        )
    return repository.subscription_start(session, subscription.name, since)


def excerpt(body: str, chars: int) -> str:
    """The start of ``body`` in one line, cut at a sentence end when one is near the limit."""
    text = _SPACE.sub(" ", body).strip()
    if len(text) <= chars:
        return text
    cut = text[:chars]
    end = max(cut.rfind(ch) for ch in _SENTENCE_END)
    if end >= chars * 0.6:
        return cut[: end + 1]
    return cut.rstrip() + "…"


def build_digest(
    session: Session,
    subscription: Subscription,
    after: Positions,
    upto: Positions,
    *,
    now: datetime,
    sites: Sequence[str],
    health: HealthThresholds,
) -> Digest:
    """The digest of ``after < position <= upto`` for the subscription.

    ``sites`` are the configured sites whose crawl health is reported (already narrowed to
    the subscription's ``sites`` filter by the caller).
    """
    upto = Positions(
        max(upto.article_id, after.article_id), max(upto.link_event_id, after.link_event_id)
    )
    articles = _articles(session, subscription, after, upto)
    dead: list[LinkChange] = []
    recovered: list[LinkChange] = []
    if subscription.include_dead_links:
        for event in repository.window_link_events(
            session, after.link_event_id, upto.link_event_id, subscription.sites
        ):
            (recovered if event.kind == "recovered" else dead).append(_link_change(event))
    return Digest(
        subscription=subscription.name,
        after_article_id=after.article_id,
        upto_article_id=upto.article_id,
        after_link_event_id=after.link_event_id,
        upto_link_event_id=upto.link_event_id,
        generated_at=now,
        articles=tuple(articles),
        dead_links=tuple(dead),
        recovered_links=tuple(recovered),
        crawl_health=tuple(_crawl_health(session, sites, now, health)),
        include_dead_links=subscription.include_dead_links,
    )


def _articles(
    session: Session, subscription: Subscription, after: Positions, upto: Positions
) -> list[DigestArticle]:
    """The window's articles, republished copies folded into the entry of the earliest."""
    flt = subscription.filter
    body_chars = subscription.excerpt_chars * 3 + 50  # room for the spaces excerpt() squeezes
    rows = repository.window_articles(
        session, after.article_id, upto.article_id, flt, body_chars=body_chars
    )
    in_window = {a.id: a for a in rows}
    outside = {a.duplicate_of for a in rows if a.duplicate_of and a.duplicate_of not in in_window}
    originals = {a.id: a for a in repository.articles_by_id(session, outside)}
    # an earlier copy this subscription has already reported (or that predates it)
    reported = {
        a.id for a in repository.articles_by_id(session, outside, flt) if a.id <= after.article_id
    }
    copies: dict[int, list[Copy]] = {}
    for a in rows:
        if a.duplicate_of in in_window:
            copies.setdefault(a.duplicate_of, []).append(_copy(a))
    out: list[DigestArticle] = []
    for a in rows:
        if a.duplicate_of in in_window or a.duplicate_of in reported:
            continue
        original = originals.get(a.duplicate_of) if a.duplicate_of else None
        out.append(
            DigestArticle(
                id=a.id,
                site=a.site,
                site_title=a.site_title,
                title=a.title,
                url=a.url,
                publish_time=a.publish_time,
                publish_time_precision=a.publish_time_precision,
                first_seen=a.first_seen,
                source=a.source,
                excerpt=excerpt(a.body_start, subscription.excerpt_chars),
                also_published_by=tuple(copies.get(a.id, ())),
                republished_from=None if original is None else _copy(original),
            )
        )
    return out


def _copy(a: WindowArticle) -> Copy:
    return Copy(id=a.id, site=a.site, site_title=a.site_title, url=a.url)


def _link_change(event: WindowLinkEvent) -> LinkChange:
    return LinkChange(
        url=event.url,
        status=event.status,
        http_status=event.http_status,
        detail=event.detail,
        at=event.at,
        pages=tuple(Page(p.url, p.site, p.title) for p in event.pages),
    )


def _crawl_health(
    session: Session, sites: Sequence[str], now: datetime, health: HealthThresholds
) -> list[SiteProblem]:
    """Sites a guard blocks, whose runs keep failing, that yield no new article although
    crawled, or that warn.

    The same judgement as ``govwatch status`` (its ``[service]`` thresholds).
    """
    if not sites:
        return []
    titles = repository.site_titles(session, sites)
    quiet = timedelta(hours=health.quiet_hours)
    problems: list[SiteProblem] = []
    for h in repository.site_health(session, sites):
        title = titles.get(h.site, h.site)
        last = h.last_run
        if last is not None and last.outcome == "blocked":
            # a guard (captcha, JavaScript challenge, expired cookie, throttling): the site
            # is up and refuses the crawler; the message names which and what to do
            problems.append(
                SiteProblem(h.site, title, "blocked", f"blocked: {last.message}", last.started_at)
            )
        elif h.failures_in_a_row >= health.failing_runs:
            message = f": {last.message}" if last and last.message else ""
            problems.append(
                SiteProblem(
                    h.site,
                    title,
                    "failing",
                    f"the last {h.failures_in_a_row} crawls failed{message}",
                    None if last is None else last.started_at,
                )
            )
        elif (quiet_since := h.quiet_since(now, quiet)) is not None:
            what = "no new article" if h.last_new_article_at else "no article ever"
            problems.append(
                SiteProblem(
                    h.site,
                    title,
                    "no_articles",
                    f"{what} for {_hours(now - quiet_since)} although its crawls ran "
                    "(a changed layout or selector?)",
                    quiet_since,
                )
            )
        elif last is not None and last.outcome == "warning" and last.warnings:
            problems.append(
                SiteProblem(h.site, title, "warning", last.warnings[0], last.started_at)
            )
    return problems


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.0f} days" if hours >= 48 else f"{hours:.0f} hours"
