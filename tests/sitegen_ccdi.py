"""A fake www.ccdi.gov.cn (中央纪委国家监委网站) channel, built as ``dict[str, Page]``.

Structure as on the real site (see DESIGN.md "What is known of the real sites"): list at
``/{channel}/`` and ``/{channel}/index.html``, further pages ``index_1.html`` …
``index_{N-1}.html`` announced by ``createPageHTML(N, CUR, "index", "html")``; items
``ul.list_news_dl2 li`` with a relative link and ``span.more`` date; articles at
``/{channel}/YYYYMM/tYYYYMMDD_NNNNNN.html`` with ``h2.tit``, ``.daty_con em.e1`` (来源),
``em.e2`` (发布时间), body ``div.content``, share widget, related list and footer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from tests.sitegen_ccdi_html import SITE_NAME, article_html, crumbs, list_html, simple_page
from tests.sitegen_common import CST, PNG_1X1, FakeArticle, Page, asset_pages, static_page
from tests.sitegen_text import TOPICS, make_paragraphs, make_title, person, province, small_edit

SOURCES = ("中央纪委国家监委网站", "中国纪检监察报", "中央纪委国家监委网站", "新华社")
DEAD_EMBED = "/dead-embed/x.html"
SPECIAL = "/special/jdbg3/"
ABOUT = "/gywmn/201412/t20141201_17827.html"
NOTICE = "/wzsmn/201412/t20141201_17826.html"


@dataclass(frozen=True, slots=True)
class _Options:
    channel: str
    per_page: int
    start: date
    body_kb: int
    gbk_every: int
    private_dirs: tuple[str, ...]  # disallowed in robots.txt, linked from the list pages


def publish_time(start: date, k: int) -> datetime:
    """Publication time of the k-th article created (0 = oldest); strictly increasing."""
    day = (2 * k) // 3
    second_of_day = k > 0 and (2 * (k - 1)) // 3 == day
    hour, minute = (18, 30) if second_of_day else ((7, 0) if day % 2 == 0 else (10, 6))
    d = start + timedelta(days=day)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=CST)


@dataclass
class CcdiSite:
    """A built ccdi channel. ``articles`` are newest first, in list order.

    ``pages`` is updated in place by :meth:`add_article`, :meth:`edit_article` and
    :meth:`remove_article`, so a ``SiteServer(site.pages)`` serves the change at once.
    ``list_paths`` are the list pages in order (``index.html``, ``index_1.html``, …);
    ``start_path`` (``/{channel}/``) serves the same page as the first of them.
    """

    pages: dict[str, Page]
    articles: list[FakeArticle]
    list_paths: list[str]
    channel: str
    _opts: _Options = field(repr=False)
    _k: dict[str, int] = field(default_factory=dict, repr=False)  # path -> creation index
    _titles: set[str] = field(default_factory=set, repr=False)
    _generation: int = field(default=0, repr=False)

    @property
    def start_path(self) -> str:
        return f"/{self.channel}/"

    def find(self, which: int | str) -> int:
        """List index of an article given by list index or path."""
        if isinstance(which, int):
            return which
        for i, art in enumerate(self.articles):
            if art.path == which:
                return i
        raise KeyError(which)

    def add_article(
        self, title: str | None = None, paragraphs: list[str] | None = None
    ) -> FakeArticle:
        """Publish a new article on top of the list; re-render the list pages."""
        k = max(self._k.values(), default=-1) + 1
        art = _make_article(self._opts, k, self._titles, embed=False)
        if title is not None:
            art.title = title
        if paragraphs is not None:
            art.paragraphs = list(paragraphs)
        self._k[art.path] = k
        self.articles.insert(0, art)
        self._render_article(0)
        self._render_lists()
        return art

    def edit_article(self, which: int | str, paragraphs: list[str] | None = None) -> FakeArticle:
        """Change an article's body; by default a small correction (a near-duplicate).

        The page gets a new Last-Modified and ETag.
        """
        i = self.find(which)
        old = self.articles[i]
        if paragraphs is None:
            paragraphs = small_edit(old.paragraphs)
        self.articles[i] = replace(old, paragraphs=list(paragraphs), revision=old.revision + 1)
        self._render_article(i)
        return self.articles[i]

    def remove_article(self, which: int | str) -> FakeArticle:
        """Delete an article: its page 404s; links to it from other articles stay (dead)."""
        art = self.articles.pop(self.find(which))
        self.pages.pop(art.path, None)
        self._render_lists()
        return art

    def _render_article(self, i: int) -> None:
        art = self.articles[i]
        k = self._k[art.path]
        body = article_html(self._opts.channel, art, k, self.articles[i + 1 : i + 4])
        if art.encoding == "gbk":
            page = static_page(body.encode("gbk"), art.modified, "text/html")
        else:
            page = static_page(body.encode(), art.modified, "text/html; charset=utf-8")
        self.pages[art.path] = page
        for image in art.images:
            self.pages[image] = static_page(PNG_1X1, art.publish_time, "image/png")

    def _render_lists(self) -> None:
        self._generation += 1
        per = self._opts.per_page
        n_pages = max(1, -(-len(self.articles) // per))
        newest = self.articles[0].modified if self.articles else datetime(2024, 1, 1, tzinfo=CST)
        modified = newest + timedelta(minutes=self._generation)
        for stale in self.list_paths[n_pages:]:
            self.pages.pop(stale, None)
        base = f"/{self.channel}/"
        self.list_paths = [f"{base}index.html"]
        self.list_paths += [f"{base}index_{p}.html" for p in range(1, n_pages)]
        for p, path in enumerate(self.list_paths):
            items = self.articles[p * per : (p + 1) * per]
            body = list_html(
                self._opts.channel, self._opts.private_dirs, path, items, n_pages, p
            ).encode()
            self.pages[path] = static_page(body, modified, "text/html; charset=utf-8")
        self.pages[base] = self.pages[self.list_paths[0]]


def _make_article(opts: _Options, k: int, titles: set[str], embed: bool) -> FakeArticle:
    when = publish_time(opts.start, k)
    article_id = 356000 + k * 113
    month_dir = f"/{opts.channel}/{when:%Y%m}/"
    path = f"{month_dir}t{when:%Y%m%d}_{article_id}.html"
    place = province(k * 11)
    topic = TOPICS[(k * 7) % len(TOPICS)]
    seed = f"ccdi:{opts.channel}:{k}"
    gbk = opts.gbk_every > 0 and (k + 1) % opts.gbk_every == 0
    name = person(random.Random(f"name:{seed}"), gbk_only=gbk)
    title = make_title(seed, place, topic, when, name)
    while title in titles:
        seed += "'"
        title = make_title(seed, place, topic, when, name)
    titles.add(title)
    paragraphs = make_paragraphs(
        seed, place, topic, when, opts.body_kb * 1024, name, name_in_lead=gbk
    )
    source = SOURCES[k % len(SOURCES)]
    if source == "新华社":
        paragraphs[0] = f"新华社北京{when.month}月{when.day}日电 " + paragraphs[0]
    author = None
    if source == SITE_NAME:
        author = person(_rng(seed))
        if k % 2:
            author += " " + person(_rng(seed + "#2"))
    images = (f"{month_dir}W0{when:%Y%m%d}{article_id}{k:06d}.png",) if k % 5 == 3 else ()
    return FakeArticle(
        path=path,
        title=title,
        publish_time=when,
        source=source,
        author=author,
        paragraphs=paragraphs,
        encoding="gbk" if gbk else "utf-8",
        embeds=(DEAD_EMBED,) if embed else (),
        images=images,
    )


def _rng(seed: str) -> random.Random:
    return random.Random(f"author:{seed}")


def build_ccdi_site(
    n_articles: int = 23,
    per_page: int = 10,
    channel: str = "yaowenn",
    start: date = date(2024, 6, 1),
    body_kb: int = 4,
    gbk_every: int = 0,
    robots_disallow: tuple[str, ...] = ("/private/",),
) -> CcdiSite:
    """Build a ccdi channel with ``n_articles`` (oldest published on ``start``).

    ``body_kb``: minimum size of each article's body text in KiB of UTF-8 (the page chrome
    adds about 8 KB). ``gbk_every=k``: every k-th article (by creation) is served as GBK
    bytes, declaring ``gb2312`` in a meta tag and no charset in the header, with characters
    GB2312 lacks. The second-newest article (list index 1) embeds the dead iframe
    ``/dead-embed/x.html``; every fifth has an image. Also served: ``/``,
    ``/{channel}`` (301 to ``/{channel}/``), ``/special/jdbg3/``, ``/robots.txt``, a page
    under each disallowed directory (linked from the list pages) and ``/images/*``.
    """
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    private_dirs = tuple(r for r in robots_disallow if r.startswith("/") and r.endswith("/"))
    opts = _Options(channel.strip("/"), per_page, start, body_kb, gbk_every, private_dirs)
    site = CcdiSite(pages={}, articles=[], list_paths=[], channel=opts.channel, _opts=opts)
    embed_k = max(0, n_articles - 2)
    for k in range(n_articles):
        art = _make_article(opts, k, site._titles, embed=k == embed_k)
        site._k[art.path] = k
        site.articles.insert(0, art)
    for i in range(len(site.articles)):
        site._render_article(i)
    site._render_lists()
    site_time = datetime(start.year, start.month, start.day, tzinfo=CST)
    pages = site.pages
    pages.update(asset_pages(site_time))
    pages[f"/{opts.channel}"] = Page(
        body=b"<html>\r\n<head><title>301 Moved Permanently</title></head>\r\n<body>\r\n"
        b"<center><h1>301 Moved Permanently</h1></center>\r\n<hr><center>nginx</center>\r\n"
        b"</body>\r\n</html>\r\n",
        status=301,
        headers={"Location": f"/{opts.channel}/"},
    )
    home = f'<a href="./{opts.channel}/">{crumbs(opts.channel)[-1]}</a>'
    pages["/"] = simple_page("/index.html", SITE_NAME, home, site_time)
    pages["/index.html"] = pages["/"]
    pages[SPECIAL] = simple_page(SPECIAL + "index.html", "曝光专区", "专题页面", site_time)
    pages[SPECIAL + "index.html"] = pages[SPECIAL]
    # Footer links: real, and shaped like article URLs (a list-item-only crawler skips them).
    for about, name in ((ABOUT, "关于我们"), (NOTICE, "网站声明")):
        pages[about] = simple_page(about, name, f"{name}正文", site_time)
    for rule in private_dirs:
        private = rule + "index.html"
        pages[private] = simple_page(private, "内部通知", "内部资料，请勿抓取", site_time)
    robots = "User-agent: *\n" + "".join(f"Disallow: {r}\n" for r in robots_disallow)
    if not robots_disallow:
        robots += "Disallow:\n"
    pages["/robots.txt"] = static_page(robots.encode(), site_time, "text/plain")
    return site
