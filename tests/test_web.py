"""The web view in-process on SQLite and PostgreSQL: pages and their JSON API, search and
filters through the article-listing query, keyset pages, and what it refuses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import text

from storage import repository
from storage.database import Database
from storage.errors import StorageError
from storage.migrate import upgrade
from tests.webdata import SCRIPT_TITLE, WebData, fill, get, serving

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


@pytest.fixture
def web(database_url: str) -> Iterator[tuple[str, WebData]]:
    db = Database(database_url)
    upgrade(db)
    data = fill(db)
    db.dispose()
    with serving(database_url) as base:
        yield base, data


def api(base: str, path: str) -> dict:  # type: ignore[type-arg]
    reply = get(base + path)
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/json")
    return json.loads(reply.body)


def ids(payload: dict) -> list[int]:  # type: ignore[type-arg]
    return [a["id"] for a in payload["articles"]]


def test_search_finds_one_and_two_character_words_and_hides_copies(
    web: tuple[str, WebData],
) -> None:
    base, data = web
    two = ids(api(base, "/api/articles?q=" + quote("违纪")))
    assert data.ids["story"] in two and data.ids["undated"] in two
    assert data.ids["copy"] not in two  # copies are hidden by default
    shown = ids(api(base, "/api/articles?copies=show&q=" + quote("违纪")))
    assert set(shown) == set(two) | {data.ids["copy"]}
    one = ids(api(base, "/api/articles?q=" + quote("纪")))
    assert set(two) <= set(one)
    assert ids(api(base, "/api/articles?q=" + quote("审"))) == [data.ids["story"]]  # the body
    assert ids(api(base, "/api/articles?q=" + quote("不存在的词"))) == []
    page = get(base + "/articles?q=" + quote("违纪"))
    assert "某局长严重违纪违法被开除党籍" in page.text
    assert "/feeds/search.atom?q=%E8%BF%9D%E7%BA%AA" in page.text


def test_site_and_date_filters(web: tuple[str, WebData]) -> None:
    base, data = web
    cq = ids(api(base, "/api/articles?site=cq&copies=show"))
    assert set(cq) == {data.ids["copy"], data.ids["embed"]}
    october = ids(api(base, "/api/articles?since=2026-10-01&until=2026-10-01&copies=show"))
    assert october == [data.ids["embed"]]  # 08:30 Beijing time on 1 October: that day
    november = ids(api(base, "/api/articles?since=2026-11-20&until=2026-11-21"))
    assert november == [data.ids["script"], data.ids["story"]]


def test_keyset_pages_walk_every_article_once_in_order(web: tuple[str, WebData]) -> None:
    base, data = web
    everything = ids(api(base, "/api/articles?copies=show&limit=200"))
    assert everything[-1] == data.ids["undated"]  # unknown publish time last
    walked: list[int] = []
    path = "/api/articles?copies=show&limit=4"
    pages = 0
    while path:
        payload = api(base, path)
        walked += ids(payload)
        path = payload["next_url"]
        pages += 1
        assert pages < 50
    assert walked == everything and len(walked) == len(set(walked))
    html = get(base + "/articles?limit=4")
    assert re.search(r'rel="next" href="/articles\?after=[-0-9.]+"', html.text)


def test_article_page_shows_source_time_copies_edits_and_links(web: tuple[str, WebData]) -> None:
    base, data = web
    story = api(base, f"/api/articles/{data.ids['story']}")
    assert [c["id"] for c in story["copies"]] == [data.ids["copy"]]
    assert story["article"]["source"] == "中央纪委国家监委网站"
    assert story["article"]["body"].startswith("经查")
    edited = api(base, f"/api/articles/{data.ids['edited']}")["article"]
    assert edited["revision"] == 1 and edited["body"].startswith("修改后")
    embed = api(base, f"/api/articles/{data.ids['embed']}")
    (link,) = embed["links"]
    assert link["status"] == "dead" and link["http_status"] == 404 and link["kind"] == "img"
    page = get(base + f"/articles/{data.ids['story']}").text
    assert "来源" in page and "中央纪委国家监委网站" in page and "2026-11-20 10:00" in page
    assert f'href="/articles/{data.ids["copy"]}"' in page
    assert "1 edit(s) seen" in get(base + f"/articles/{data.ids['edited']}").text
    assert get(base + "/articles/999999").status == 404
    assert get(base + "/api/articles/99999999999999999999").status == 404
    assert get(base + "/api/articles/9223372036854775808").status == 404


def test_site_content_is_escaped(web: tuple[str, WebData]) -> None:
    base, data = web
    for path in ("/articles", f"/articles/{data.ids['script']}", "/articles?q=pwned"):
        reply = get(base + path)
        assert "<script" not in reply.text and "<b>加粗" not in reply.text, path
        assert "<img src=x" not in reply.text
    page = get(base + f"/articles/{data.ids['script']}").text
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;通报" in page
    assert api(base, f"/api/articles/{data.ids['script']}")["article"]["title"] == SCRIPT_TITLE


def test_dead_links_sites_and_digests(web: tuple[str, WebData]) -> None:
    base, data = web
    links = api(base, "/api/links")
    (link,) = links["links"]
    assert link["url"] == "https://map.example.gov.cn/dead-embed/map.html"
    assert link["refs"][0]["page_url"].endswith("/a/5.html") and link["status_since"]
    page = get(base + "/links").text
    assert f'href="/articles/{data.ids["embed"]}"' in page and "dead-embed/map.html" in page
    sites = {s["name"]: s for s in api(base, "/api/sites")["sites"]}
    assert sites["ccdi"]["articles"] == 4 + len(data.filler)
    assert sum(d["count"] for d in sites["cq"]["articles_per_day"]) == 2
    assert "重庆市纪委监委" in get(base + "/sites").text
    (digest,) = api(base, "/api/digests")["digests"]
    assert digest["name"] == "discipline" and digest["keywords"] == ["违纪"]
    assert "/feeds/digest/discipline.atom" in get(base + "/digests").text


BAD = [
    ("/api/articles?limit=0", "limit: must be from 1 to 200"),
    ("/api/articles?limit=201", "limit: must be from 1 to 200"),
    ("/api/articles?limit=99999999999999999999", "limit: not a whole number"),
    ("/api/articles?limit=%EF%BC%91", "limit: not a whole number"),  # a full-width 1
    ("/api/articles?since=2026-13-01", "since: not a date"),
    ("/api/articles?since=2026-11-02&until=2026-11-01", "until: must not be before"),
    ("/api/articles?q=%00", "q: control characters"),
    ("/api/articles?q=" + "x" * 201, "q: at most 200 characters"),
    ("/api/articles?after=1.2.99999999999999999999", "after: not a page cursor"),
    ("/api/articles?after=9999999999999999999.1.1", "after: not a page cursor"),
    ("/api/articles?copies=only", "copies: must be one of hide, show"),
    ("/api/links?status=gone", "status: must be one of"),
]


def test_bad_parameters_are_one_line_400s(web: tuple[str, WebData]) -> None:
    base, _ = web
    for path, message in BAD:
        reply = get(base + path)
        assert reply.status == 400, path
        assert json.loads(reply.body)["error"].startswith(message), path
        page = get(base + path.replace("/api/", "/", 1))
        assert page.status == 400 and message.split(":")[0] in page.text


def test_headers_methods_and_static(web: tuple[str, WebData]) -> None:
    base, _ = web
    for path in ("/articles", "/api/articles", "/nope", "/api/articles?limit=0", "/links"):
        reply = get(base + path)
        assert reply.headers["Content-Security-Policy"] == CSP, path
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert get(base + "/articles", method=method).status == 405
    assert get(base + "/articles", method="HEAD").status == 200
    css = get(base + "/static/style.css")
    assert css.status == 200 and css.headers["Content-Type"].startswith("text/css")
    assert get(base + "/static/../app.py").status == 404


def test_the_token_guards_every_route(database_url: str) -> None:
    db = Database(database_url)
    upgrade(db)
    fill(db, fillers=0)
    db.dispose()
    with serving(database_url, token="s3cret-令牌") as base:
        for path in ("/articles", "/api/articles", "/feeds/site/ccdi.atom", "/static/style.css"):
            reply = get(base + path)
            assert reply.status == 401, path
            assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        assert get(base + "/articles", {"Authorization": "Bearer wrong"}).status == 401
        good = {"Authorization": "Bearer s3cret-令牌".encode().decode("latin-1")}
        assert get(base + "/api/articles", good).status == 200
        feed = get(base + "/feeds/site/ccdi.atom?token=" + quote("s3cret-令牌"))
        assert feed.status == 200 and b"token" not in feed.body  # not in the self link
        page = get(base + "/articles?token=" + quote("s3cret-令牌"))
        cookie = page.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        value = cookie.split(";", 1)[0]
        assert get(base + "/sites", {"Cookie": value}).status == 200


def test_the_database_is_read_only_to_the_web_view(database_url: str) -> None:
    db = Database(database_url)
    upgrade(db)
    fill(db, fillers=0)
    db.dispose()
    reader = Database(database_url, read_only=True)
    try:
        with (
            pytest.raises(StorageError, match=r"read.only|readonly|query_only"),
            reader.session() as session,
        ):
            session.execute(text("DELETE FROM articles"))
        with reader.session() as session:
            assert repository.count_articles(session) == 6
    finally:
        reader.dispose()


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "none" / "gw.db"
    with pytest.raises(StorageError, match="no database at"):
        Database(f"sqlite:///{path}", read_only=True)
    assert not path.parent.exists()


def test_a_long_query_is_interrupted(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    upgrade(Database(url))
    reader = Database(url, read_only=True, statement_timeout=0.2)
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
        "SELECT count(*) FROM n"
    )
    try:
        with pytest.raises(StorageError, match="interrupted"), reader.session() as session:
            session.execute(text(slow)).scalar()
        with reader.session() as session:  # the next statement has its own deadline
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        reader.dispose()
