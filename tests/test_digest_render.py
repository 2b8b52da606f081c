"""Rendering digests: HTML escaping, subjects, chat Markdown within each service's limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from lxml import html as lxml_html

from digest.channels.chat import LIMITS
from digest.records import Copy, Digest, DigestArticle, LinkChange, Page, SiteProblem
from digest.render import payload, render_html, render_markdown, render_text, subject
from tests.digest_helpers import BEIJING

NOW = datetime(2026, 11, 26, 0, 5, tzinfo=UTC)  # 08:05 in Beijing


def article(n: int, site: str = "ccdi", **changes: object) -> DigestArticle:
    values: dict[str, object] = {
        "id": n,
        "site": site,
        "site_title": {"ccdi": "中央纪委国家监委网站", "cqrb": "重庆日报"}[site],
        "title": f"第{n}篇 审查调查通报",
        "url": f"https://www.ccdi.gov.cn/scdcn/202611/t20261126_{n}.html",
        "publish_time": datetime(2026, 11, 26, 7, n % 60, tzinfo=BEIJING),
        "first_seen": NOW,
        "source": "中央纪委国家监委网站",
        "excerpt": "据中央纪委国家监委消息，某某涉嫌严重违纪违法，目前正接受审查调查。",
    }
    values.update(changes)
    return DigestArticle(**values)  # type: ignore[arg-type]


def digest(*articles: DigestArticle, **changes: object) -> Digest:
    values: dict[str, object] = {
        "subscription": "daily",
        "after_article_id": 100,
        "upto_article_id": 100 + len(articles),
        "after_link_event_id": 0,
        "upto_link_event_id": 0,
        "generated_at": NOW,
        "articles": articles,
    }
    values.update(changes)
    return Digest(**values)  # type: ignore[arg-type]


DEAD = LinkChange(
    url="https://jjc.cq.gov.cn/map/baidu.js",
    status="dead",
    http_status=404,
    detail="HTTP 404",
    at=NOW,
    pages=(Page("https://jjc.cq.gov.cn/html/2024-06/30/content_1.htm", "cq-jjc", "找准问题眼"),),
)


def test_subject_counts_articles_dead_links_and_problems() -> None:
    assert subject(digest()) == "govwatch: no new articles — 2026-11-26"
    assert subject(digest(article(1))) == "govwatch: 1 new article — 2026-11-26"
    many = digest(*(article(n) for n in range(12)), dead_links=(DEAD, DEAD))
    assert subject(many) == "govwatch: 12 new articles, 2 dead links — 2026-11-26"
    hidden = digest(article(1), dead_links=(DEAD,), include_dead_links=False)
    assert subject(hidden) == "govwatch: 1 new article — 2026-11-26"


def test_title_with_script_is_escaped_in_html_and_foreign_links_are_checked() -> None:
    evil = article(
        1,
        title='<script>alert("x")</script>通报',
        excerpt="<img src=x onerror=alert(1)>正文",
        url="javascript:alert(1)",
    )
    page = render_html(digest(evil, article(2)))
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;通报" in page
    assert "<img src=x" not in page
    tree = lxml_html.fromstring(page)
    assert not tree.xpath("//script")
    assert not tree.xpath("//img")
    hrefs = tree.xpath("//a/@href")
    assert not any(h.startswith("javascript:") for h in hrefs)
    assert "https://www.ccdi.gov.cn/scdcn/202611/t20261126_2.html" in hrefs
    titles = [a.text_content() for a in tree.xpath("//a")]
    assert '<script>alert("x")</script>通报' in titles  # shown as text, as written
    # the plain-text part is not HTML: the title reads as written
    assert '<script>alert("x")</script>通报' in render_text(digest(evil))


def test_html_has_sections_for_articles_links_and_health() -> None:
    d = digest(
        article(1, also_published_by=(Copy(9, "cqrb", "重庆日报", "https://cqrb.cn/a/9.html"),)),
        article(3, site="cqrb"),
        dead_links=(DEAD,),
        crawl_health=(
            SiteProblem("cq-jjc", "重庆市纪委监委", "failing", "the last 3 crawls failed", None),
        ),
    )
    tree = lxml_html.fromstring(render_html(d))
    assert [h.text_content().split()[0] for h in tree.xpath("//h2")] == [
        "中央纪委国家监委网站",
        "重庆日报",
        "Links",
        "Crawl",
    ]
    text = tree.text_content()
    assert "2026-11-26 07:01 · 中央纪委国家监委网站" in text
    assert "Also published by 重庆日报" in text
    assert "on 找准问题眼 (cq-jjc)" in text
    assert "重庆市纪委监委 (cq-jjc): the last 3 crawls failed" in text


def test_payload_is_the_documented_json() -> None:
    d = digest(article(1), dead_links=(DEAD,))
    body = json.loads(json.dumps(payload(d, "daily-1-webhook-ab12cd34")))
    assert body["version"] == 1
    assert body["idempotency_key"] == "daily-1-webhook-ab12cd34"
    assert body["window"] == {
        "after_article_id": 100,
        "upto_article_id": 101,
        "after_link_event_id": 0,
        "upto_link_event_id": 0,
    }
    assert body["counts"] == {
        "articles": 1,
        "dead_links": 1,
        "recovered_links": 0,
        "crawl_problems": 0,
    }
    (a,) = body["articles"]
    assert a["publish_time"] == "2026-11-26T07:01:00+08:00"
    assert set(a) == {
        "id",
        "site",
        "site_title",
        "title",
        "url",
        "publish_time",
        "publish_time_precision",
        "first_seen",
        "source",
        "excerpt",
        "also_published_by",
        "republished_from",
    }
    assert body["dead_links"][0]["pages"][0]["title"] == "找准问题眼"


@pytest.mark.parametrize("flavor", ["dingtalk", "wecom", "feishu", "slack"])
def test_chat_markdown_is_split_within_the_limit_without_losing_an_entry(flavor: str) -> None:
    limit, measure = LIMITS[flavor]
    articles = [article(n, excerpt="正文" * 50) for n in range(200)]
    d = digest(*articles, dead_links=(DEAD,))
    parts = render_markdown(d, flavor, limit, measure)
    assert len(parts) > 1
    assert all(measure(p) <= limit for p in parts)
    joined = "\n".join(parts)
    for a in articles:  # every entry, whole, exactly once
        assert joined.count(a.url) == 1
    assert "baidu.js" in joined
    assert f"({len(parts)}/{len(parts)})" in parts[-1]


@pytest.mark.parametrize("flavor", ["dingtalk", "wecom", "feishu", "slack"])
def test_chat_markdown_neutralises_formatting_in_titles(flavor: str) -> None:
    d = digest(article(1, title="[点我](https://evil.example) *粗体* <@all> `x`"))
    (text,) = render_markdown(d, flavor, 4000)
    assert "](https://evil.example)" not in text  # no link of the title's making
    assert "|https://evil.example" not in text and "<https://evil.example" not in text
    assert "<@all>" not in text
    assert "［点我］" in text


def test_one_entry_longer_than_the_limit_is_cut() -> None:
    d = digest(article(1, excerpt="长" * 3000))
    parts = render_markdown(d, "wecom", 4000)
    assert all(len(p.encode()) <= 4000 for p in parts)
    assert parts[-1].rstrip().endswith("…")


def test_an_email_boundary_is_never_in_the_text_and_the_message_parses_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from email import message_from_bytes, policy

    from digest.channels import email as email_channel
    from digest.subscription import EmailChannel

    # an excerpt holding the first boundary the generator would pick: the next one is taken
    taken = f"{'=' * 15}{7:019d}=="
    tokens = iter([7, 8])
    monkeypatch.setattr(email_channel.random, "randrange", lambda _n: next(tokens))
    channel = EmailChannel(
        name="mail", host="127.0.0.1", port=25, sender="gw@example.org", recipients=("a@b.org",)
    )
    message = email_channel.build_message(channel, digest(article(1, excerpt=taken)), "k-1")
    assert message.get_boundary() == f"{'=' * 15}{8:019d}=="
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert taken in plain.get_content() and taken in html.get_content()


def test_emails_share_their_header_classes_and_read_as_the_standard_policy_writes() -> None:
    """The standard library's header registry makes a new class for every header it sets;
    in the service's long-lived process each email left its classes as garbage for the next
    full collection.  One class per header name, and the same bytes as the default policy."""
    from email import policy
    from email.message import EmailMessage

    from digest.channels import email as email_channel
    from digest.subscription import EmailChannel

    channel = EmailChannel(
        name="mail", host="127.0.0.1", port=25, sender="gw@example.org", recipients=("a@b.org",)
    )
    first = email_channel.build_message(channel, digest(article(1)), "k-1")
    second = email_channel.build_message(channel, digest(article(2)), "k-2")
    names = ["Subject", "From", "To", "Date", "Message-ID", email_channel.KEY_HEADER]
    for name in [*names, "MIME-Version", "Content-Type"]:
        assert type(first[name]) is type(second[name]), name
    for part_of_first, part_of_second in zip(first.iter_parts(), second.iter_parts(), strict=True):
        assert type(part_of_first["Content-Type"]) is type(part_of_second["Content-Type"])

    standard = EmailMessage(policy=policy.default)
    for name in names:
        standard[name] = str(first[name])
    standard.set_content(first.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    standard.add_alternative(
        first.get_body(("html",)).get_content(),  # type: ignore[union-attr]
        subtype="html",
    )
    standard.set_boundary(first.get_boundary())
    assert first.as_bytes() == standard.as_bytes()
