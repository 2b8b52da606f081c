"""A database for the web view's tests, written with the project's own repository functions
(and the digest tests' helpers, which call them), and the web view served from it in-process
(``web.server.ThreadedServer`` on a free port)."""

from __future__ import annotations

import datetime as dt
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.message import Message

from storage import repository
from storage.database import Database
from storage.digest_records import ArticleFilter
from storage.records import NewArticle
from tests.digest_helpers import BEIJING, add_article, add_link_event, add_site, mark_copy
from web.app import WebOptions, build_app
from web.server import ThreadedServer
from web.views import DigestFeed

SCRIPT_TITLE = "<script>document.title='pwned'</script>通报<b>加粗</b>"


@dataclass
class WebData:
    ids: dict[str, int] = field(default_factory=dict)
    filler: list[int] = field(default_factory=list)  # plain articles, newest first


def fill(db: Database, fillers: int = 23) -> WebData:
    """Two sites, a story republished by the second, an edited article, a title holding a
    script, an article with a dead embed, an article without a publish time, and fillers."""
    data = WebData()
    ccdi = add_site(db, "ccdi")
    cq = add_site(db, "cq", "重庆市纪委监委")
    data.ids["story"] = add_article(
        db,
        ccdi,
        1,
        title="某局长严重违纪违法被开除党籍",
        body="经查，某某违反政治纪律。\n对抗组织审查。",
        published=dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING),
    )
    data.ids["copy"] = add_article(
        db,
        cq,
        2,
        title="某局长严重违纪违法被开除党籍",
        body="经查，某某违反政治纪律。\n对抗组织审查。（转载）",
        source="重庆日报",
        published=dt.datetime(2026, 11, 20, 11, 0, tzinfo=BEIJING),
    )
    mark_copy(db, data.ids["copy"], data.ids["story"])
    data.ids["script"] = add_article(
        db,
        ccdi,
        3,
        title=SCRIPT_TITLE,
        body="<img src=x onerror=alert(1)>正文\x01控制字符",
        published=dt.datetime(2026, 11, 21, 9, 0, tzinfo=BEIJING),
    )
    data.ids["edited"] = add_article(
        db, ccdi, 4, title="纪检监察机关通报典型问题", body="初版正文。"
    )
    _edit(db, ccdi, data.ids["edited"], "修改后的正文：通报五起典型问题。")
    data.ids["embed"] = add_article(
        db,
        cq,
        5,
        title="基层监督工作综述",
        published=dt.datetime(2026, 10, 1, 8, 30, tzinfo=BEIJING),
    )
    embed_page = f"https://site{cq}.example.gov.cn/a/5.html"
    add_link_event(
        db,
        "https://map.example.gov.cn/dead-embed/map.html",
        "newly_dead",
        page_url=embed_page,
        site_id=cq,
    )
    data.ids["undated"] = _undated(db, ccdi)
    for n in range(100, 100 + fillers):
        # ties on purpose: three articles share each publish minute
        when = dt.datetime(2026, 9, 1, 8, tzinfo=BEIJING) + dt.timedelta(minutes=(n - 100) // 3)
        data.filler.append(add_article(db, ccdi, n, title=f"工作动态第{n}期", published=when))
    data.filler.reverse()
    return data


def _edit(db: Database, site_id: int, article_id: int, body: str) -> None:
    """Store the article again with another body: an edit (revision 1)."""
    with db.session() as s:
        stored = repository.get_article(s, article_id)
        assert stored is not None
        edited = NewArticle(
            site_id=site_id,
            url=stored.canonical_url,
            fetched_url=stored.url,
            title=stored.title,
            publish_time=stored.publish_time,
            source=stored.source,
            author=None,
            body=body,
        )
        result = repository.save_articles(s, [edited], run_id=None)
        assert result.changed == (article_id,)


def _undated(db: Database, site_id: int) -> int:
    article = NewArticle(
        site_id=site_id,
        url="https://undated.example.gov.cn/a.html",
        fetched_url="https://undated.example.gov.cn/a.html",
        title="无日期的违纪通报",
        publish_time=None,
        source=None,
        author=None,
        body="无日期。",
    )
    with db.session() as s:
        (new_id,) = repository.store_articles(s, [article], run_id=None)
    return new_id


DIGESTS = (DigestFeed(name="discipline", filter=ArticleFilter(keywords=("违纪",))),)


@contextmanager
def serving(url: str, **options: object) -> Iterator[str]:
    """The web view over the database at ``url`` (read-only), at the yielded base URL."""
    db = Database(url, read_only=True, statement_timeout=10)
    opts = replace(WebOptions(page_size=10, digests=DIGESTS), **options)  # type: ignore[arg-type]
    server = ThreadedServer(build_app(db, opts), "127.0.0.1", 0).start()
    try:
        yield f"http://{server.address}"
    finally:
        server.stop()
        db.dispose()


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> Reply:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Reply(exc.code, exc.headers, exc.read())
