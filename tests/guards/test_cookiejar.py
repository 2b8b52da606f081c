"""The cookie replay middleware on its own: script cookies into the jar, the rule before each
request, the jar kept in the database and loaded by the next run (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from types import SimpleNamespace

from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.guards.cookiejar import SAVE_EVERY_SETTING, ReplayCookiesMiddleware
from crawler.recorder import RunRecorder
from crawler.site import Site
from crawler.store.local import LocalStore
from storage import repository
from storage.database import Database
from tests.sitegen_guarded import parse_cookie_header, rewrite

HOST = "www.example.gov.cn"
HOY = "UQMNRSXOICWYAHVD,8976ABC354DEF012,vwhgujlopfbmcine"


def opened(db: Database, rule: str | None, save_every: float = 0.0) -> ReplayCookiesMiddleware:
    """A middleware as a crawl of a site on HOST opens it (a real recorded run)."""
    site = Site(
        name="guarded",
        title="guarded",
        start_urls=(f"http://{HOST}/list/",),
        article_url_pattern=re.compile(r"/a/"),
        cookie_rule=rule,
    )
    crawler = get_crawler(settings_dict={"COOKIES_ENABLED": True, SAVE_EVERY_SETTING: save_every})
    mw = ReplayCookiesMiddleware.from_crawler(crawler)
    mw.spider_opened(SimpleNamespace(site=site, recorder=RunRecorder.start(LocalStore(db), site)))  # type: ignore[arg-type]
    return mw


def sent(mw: ReplayCookiesMiddleware, path: str = "/a/1.html") -> dict[str, str]:
    request = Request(f"http://{HOST}{path}")
    mw.process_request(request)
    header = request.headers.get("Cookie")
    return parse_cookie_header(header.decode("latin-1")) if header else {}


def answer(mw: ReplayCookiesMiddleware, script: str, set_cookie: str | None = None) -> None:
    request = Request(f"http://{HOST}/list/")
    body = f"<html><body><script>{script}</script><p>x</p></body></html>".encode()
    headers = {"Set-Cookie": set_cookie} if set_cookie else {}
    response = HtmlResponse(request.url, body=body, headers=headers, request=request)
    assert mw.process_response(request, response) is response


def kept(db: Database) -> dict[str, str]:
    with db.session() as session:
        return {c.name: c.value for c in repository.live_cookies(session, [HOST])}


CCDI_SCRIPT = (
    f'document.cookie = "HOY_TR={HOY}; max-age=31536000; path=/";'
    'document.cookie = "HBB_HC=62113c25a9; max-age=86400; path=/";'
)


def test_script_cookies_are_sent_rewritten_kept_and_loaded_by_the_next_run(db: Database) -> None:
    first = opened(db, "ccdi")
    assert sent(first) == {}
    answer(first, CCDI_SCRIPT, set_cookie="SID=s1; Max-Age=600; Path=/")
    cookies = sent(first)
    assert cookies == {"HOY_TR": rewrite(HOY), "HBB_HC": "62113c25a9", "SID": "s1"}
    assert first.learned == 2
    # saved with the response (the save interval is 0 here), as the page set them: the rule
    # rewrites before each request
    assert kept(db) == {"HOY_TR": HOY, "HBB_HC": "62113c25a9", "SID": "s1"}

    second = opened(db, "ccdi", save_every=3600)
    assert sent(second, "/list/") == cookies  # its first request carries them
    # the site deletes a cookie: gone from the jar, and from the database when it is saved
    answer(second, 'document.cookie = "HBB_HC=; max-age=0; path=/";')
    assert "HBB_HC" not in sent(second)
    assert "HBB_HC" in kept(db)  # not saved yet (interval of an hour)
    second.spider_closed(SimpleNamespace())  # type: ignore[arg-type]
    assert kept(db) == {"HOY_TR": rewrite(HOY), "SID": "s1"}


def test_without_a_rule_cookies_go_back_as_set(db: Database) -> None:
    mw = opened(db, None)
    answer(mw, CCDI_SCRIPT)
    assert sent(mw) == {"HOY_TR": HOY, "HBB_HC": "62113c25a9"}


def test_cookies_of_another_host_are_not_sent(db: Database) -> None:
    mw = opened(db, "ccdi")
    answer(mw, CCDI_SCRIPT)
    request = Request("http://other.example.org/a/1.html")
    mw.process_request(request)
    assert request.headers.get("Cookie") is None
