"""Building digests from the database: content, windows by positions, exactly once.

On SQLite always and on PostgreSQL when GOVWATCH_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text, update

from digest import outbox
from digest.build import excerpt, take_positions
from digest.records import Digest
from digest.render import render_text, subject
from digest.subscription import HealthThresholds, Subscription, WebhookChannel
from storage import repository
from storage.database import Database
from storage.digest_records import NewWindow, Positions
from storage.models import Article, SiteArticleDay
from storage.records import NewArticle
from tests.digest_helpers import (
    BEIJING,
    add_article,
    add_link_event,
    add_run,
    add_site,
    mark_copy,
)

HEALTH = HealthThresholds(failing_runs=3, quiet_hours=48)


def subscription(name: str = "daily", **changes: object) -> Subscription:
    values: dict[str, object] = {
        "name": name,
        "channels": (WebhookChannel(name="webhook", url="http://127.0.0.1:9/hook"),),
    }
    values.update(changes)
    return Subscription(**values)  # type: ignore[arg-type]


def build(
    db: Database, sub: Subscription, upto: Positions | None = None, sites: list[str] | None = None
) -> tuple[int | None, Digest]:
    window, digest = outbox.open_window(
        db, sub, now=datetime.now(UTC), sites=sites or [], health=HEALTH, upto=upto
    )
    return (None if window is None else window.id), digest


def ids(digest: Digest) -> list[int]:
    return [a.id for a in digest.articles]


def test_content_grouped_newest_first_with_copies_links_and_health(db: Database) -> None:
    ccdi = add_site(db, "ccdi", "中央纪委国家监委网站")
    cqrb = add_site(db, "cqrb", "重庆日报")
    older = add_article(db, ccdi, 1, published=datetime(2026, 11, 25, 8, 0, tzinfo=BEIJING))
    newer = add_article(
        db,
        ccdi,
        2,
        title="中央纪委国家监委通报",
        published=datetime(2026, 11, 26, 7, 30, tzinfo=BEIJING),
        body="  第一段。\n\n  第二段很长" + "很长" * 100,
    )
    copy = add_article(db, cqrb, 3, title="中央纪委国家监委通报", source="重庆日报")
    own = add_article(db, cqrb, 4, source="重庆日报")
    mark_copy(db, copy, newer)
    page = "https://site1.example.gov.cn/a/1.html"
    add_link_event(
        db, "https://img.example.gov.cn/gone.png", "newly_dead", page_url=page, site_id=ccdi
    )
    add_link_event(
        db,
        "https://img.example.gov.cn/back.png",
        "recovered",
        page_url=page,
        site_id=ccdi,
        http_status=200,
    )
    for _ in range(3):
        add_run(db, cqrb, "failed", "no list page could be fetched")

    _, digest = build(db, subscription(), sites=["ccdi", "cqrb"])

    assert [g.site for g in digest.groups] == ["ccdi", "cqrb"]
    assert ids(digest) == [newer, older, own]  # by site, newest first; the copy folded
    top = digest.articles[0]
    assert top.title == "中央纪委国家监委通报"
    assert top.url == "http://site1.example.gov.cn/a/2.html"  # as fetched: a link that works
    assert top.publish_time == datetime(2026, 11, 26, 7, 30, tzinfo=BEIJING)
    assert [(c.id, c.site_title) for c in top.also_published_by] == [(copy, "重庆日报")]
    assert top.excerpt.startswith("第一段。 第二段很长")
    assert len(top.excerpt) <= 121
    (dead,) = digest.dead_links
    assert dead.url == "https://img.example.gov.cn/gone.png"
    assert dead.http_status == 404
    assert [(p.title, p.url) for p in dead.pages] == [
        ("第1篇 新闻标题", page.replace("https", "http"))
    ]
    (back,) = digest.recovered_links
    assert back.url.endswith("back.png")
    (problem,) = digest.crawl_health
    assert (problem.site, problem.problem) == ("cqrb", "failing")
    assert "no list page could be fetched" in problem.detail

    assert subject(digest) == (
        f"govwatch: 3 new articles, 1 dead link, 1 crawl problem — {digest.date}"
    )
    text_ = render_text(digest)
    assert "2026-11-26 07:30 · 中央纪委国家监委网站" in text_  # Beijing time, source
    assert "Also published by 重庆日报: http://site2.example.gov.cn/a/3.html" in text_
    assert "on 第1篇 新闻标题 http://site1.example.gov.cn/a/1.html (ccdi)" in text_
    # stored with the window, it reads back the same
    assert Digest.from_json(digest.to_json()) == digest


def test_copy_of_an_article_reported_earlier_is_not_reported_again(db: Database) -> None:
    ccdi = add_site(db, "ccdi")
    cqrb = add_site(db, "cqrb", "重庆日报")
    sub = subscription()
    original = add_article(db, ccdi, 1)
    _, first = build(db, sub)
    assert ids(first) == [original]
    copy = add_article(db, cqrb, 2)
    mark_copy(db, copy, original)
    foreign = add_article(db, cqrb, 3)
    _, second = build(db, sub)
    assert ids(second) == [foreign]
    # a subscription that never saw the original (another site) gets the copy, marked
    only_cqrb = subscription("cq", sites=("cqrb",))
    _, digest = build(db, only_cqrb)
    entry = next(a for a in digest.articles if a.id == copy)
    assert entry.republished_from is not None and entry.republished_from.id == original


def test_every_article_in_exactly_one_window(db: Database) -> None:
    sid = add_site(db)
    sub = subscription()
    seen: list[int] = []
    stored: list[int] = []
    for batch in range(4):
        stored += [add_article(db, sid, batch * 10 + i) for i in range(batch + 1)]
        _, digest = build(db, sub)
        seen += ids(digest)
    _, last = build(db, sub)
    assert last.articles == ()
    assert sorted(seen) == sorted(stored)
    assert len(seen) == len(set(seen))
    with db.session() as s:
        windows = repository.list_windows(s, "daily")
    assert [w.seq for w in windows] == [5, 4, 3, 2, 1]
    for newer, older in itertools.pairwise(windows):
        assert newer.after == older.upto  # contiguous


def test_article_stored_during_a_build_goes_into_the_next_digest(db: Database) -> None:
    sid = add_site(db)
    sub = subscription()
    before = add_article(db, sid, 1)
    upto = take_positions(db)  # the build starts: its upper bound is read
    during = add_article(db, sid, 2)  # stored while the digest is being built
    _, digest = build(db, sub, upto=upto)
    assert ids(digest) == [before]
    _, following = build(db, sub)
    assert ids(following) == [during]


def test_concurrent_writer_never_loses_or_repeats_an_article(db: Database) -> None:
    sid = add_site(db)
    sub = subscription()
    stored: list[int] = []
    done = threading.Event()

    def write() -> None:
        try:
            for n in range(40):
                stored.append(add_article(db, sid, n))
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    seen: list[int] = []
    while not done.is_set():
        seen += ids(build(db, sub)[1])
    writer.join()
    seen += ids(build(db, sub)[1])
    assert sorted(seen) == sorted(stored)
    assert len(seen) == len(set(seen))


def _waiting_for_a_lock(db: Database) -> bool:
    """Whether some session is waiting for a lock (the build, for the writer)."""
    with db.engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar())


def test_postgresql_bound_waits_for_an_uncommitted_lower_id(db: Database) -> None:
    """PostgreSQL hands out ids before commit: id k (uncommitted) < id k+1 (committed).

    A build that read ``max(id)`` = k+1 then would cover ``(…, k+1]`` without k, and the next
    one would start after k+1: k would be in no digest.  The bound waits for the writer.
    """
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: ids are visible in order")
    sid = add_site(db)
    sub = subscription()
    digests: list[Digest] = []
    builder = threading.Thread(target=lambda: digests.append(build(db, sub)[1]))
    with db.session() as slow:
        (k,) = repository.store_articles(
            slow,
            [
                NewArticle(
                    sid,
                    "https://x.example/slow",
                    "https://x.example/slow",
                    "慢",
                    None,
                    None,
                    None,
                    "正文",
                )
            ],
            run_id=None,
        )
        quick = add_article(db, sid, 2)
        assert quick > k
        builder.start()  # a digest is built while k is not committed yet
        deadline = time.monotonic() + 10
        while builder.is_alive() and not _waiting_for_a_lock(db):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    builder.join(10)
    digests.append(build(db, sub)[1])
    reported = [i for d in digests for i in ids(d)]
    assert sorted(reported) == [k, quick]


def test_filters_by_site_and_keyword(db: Database) -> None:
    ccdi = add_site(db, "ccdi")
    cqrb = add_site(db, "cqrb", "重庆日报")
    a = add_article(db, ccdi, 1, title="巡视整改情况通报")
    add_article(db, ccdi, 2, title="其他新闻")
    c = add_article(db, cqrb, 3, title="会议", body="正文提到巡视工作。")
    add_article(db, cqrb, 4, title="天气")
    _, by_keyword = build(db, subscription("kw", keywords=("巡视",)))
    assert sorted(ids(by_keyword)) == [a, c]
    _, by_site = build(db, subscription("site", sites=("cqrb",), keywords=("巡视",)))
    assert ids(by_site) == [c]


def test_first_digest_covers_only_the_backfill_period(db: Database) -> None:
    sid = add_site(db)
    old = add_article(db, sid, 1)
    recent = add_article(db, sid, 2)
    with db.session() as s:
        s.execute(
            update(Article)
            .where(Article.id == old)
            .values(first_seen=datetime.now(UTC) - timedelta(days=3))
        )
    _, digest = build(db, subscription(backfill_hours=24))
    assert ids(digest) == [recent]


def test_site_without_new_articles_for_long_is_reported(db: Database) -> None:
    sid = add_site(db, "cq-jjc", "重庆市纪委监委")
    article = add_article(db, sid, 1)
    with db.session() as s:
        s.execute(
            update(Article)
            .where(Article.id == article)
            .values(first_seen=datetime.now(UTC) - timedelta(days=3))
        )
        # the per-site summary the store path keeps beside the article (site_article_days)
        s.execute(
            update(SiteArticleDay)
            .where(SiteArticleDay.site_id == sid)
            .values(last_first_seen=datetime.now(UTC) - timedelta(days=3))
        )
    add_run(db, sid, "warning", found=0)
    _, digest = build(db, subscription(), sites=["cq-jjc"])
    (problem,) = digest.crawl_health
    assert problem.problem == "no_articles"
    assert "no new article for 3 days" in problem.detail


def test_empty_digest_is_skipped_when_configured(db: Database) -> None:
    add_site(db)
    window, digest = outbox.open_window(
        db,
        subscription("quiet", skip_empty=True),
        now=datetime.now(UTC),
        sites=[],
        health=HEALTH,
    )
    assert digest.is_empty
    assert window is not None and window.skipped
    window2, _ = outbox.open_window(
        db, subscription("heartbeat"), now=datetime.now(UTC), sites=[], health=HEALTH
    )
    assert window2 is not None and not window2.skipped
    with db.session() as s:
        due = repository.due_deliveries(s, datetime.now(UTC) + timedelta(seconds=1))
    assert [d.subscription for d in due] == ["heartbeat"]  # nothing to send for "quiet"


def test_second_process_recording_the_same_window_loses(db: Database) -> None:
    sid = add_site(db)
    add_article(db, sid, 1)
    now = datetime.now(UTC)
    with db.session() as s:
        start = repository.ensure_subscription(
            s, "daily", now=now, backfill_since=now - timedelta(hours=1)
        )
        upto = repository.read_positions(s)
    window = NewWindow("daily", start, upto, now, 1, 0, False, "{}", (("webhook", "webhook"),))
    with db.session() as s:
        assert repository.record_window(s, window, key_suffix="a") is not None
    with db.session() as s:
        assert repository.record_window(s, window, key_suffix="b") is None


def test_excerpt_is_one_line_and_cut_at_a_sentence_end() -> None:
    assert excerpt("第一句。\n第二句", 100) == "第一句。 第二句"
    body = "甲" * 80 + "。" + "乙" * 100
    assert excerpt(body, 100) == "甲" * 80 + "。"
    assert excerpt("乙" * 200, 100) == "乙" * 100 + "…"
