"""Atom feeds: valid against RFC 4287's RELAX NG schema (lxml), parsed by feedparser without
``bozo``; stable entry ids, copies folded, absolute links, validators and 304, ``limit``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import feedparser
import pytest
from lxml import etree

from storage.database import Database
from storage.migrate import upgrade
from tests.digest_helpers import add_article
from tests.webdata import SCRIPT_TITLE, WebData, fill, get, serving

SCHEMA = etree.RelaxNG(etree.parse(str(Path(__file__).with_name("data") / "atom.rng")))
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def web(database_url: str) -> Iterator[tuple[str, WebData, str]]:
    db = Database(database_url)
    upgrade(db)
    data = fill(db)
    db.dispose()
    with serving(database_url) as base:
        yield base, data, database_url


def valid(body: bytes) -> etree._Element:
    """The feed's root, after the schema and the schema's two schematron rules accept it."""
    root = etree.fromstring(body)
    assert SCHEMA.validate(root), SCHEMA.error_log
    # schematron rules of RFC 4287's schema, which RELAX NG validators ignore
    has_author = root.find(f"{ATOM}author") is not None
    for entry in root.iter(f"{ATOM}entry"):
        assert has_author or entry.find(f"{ATOM}author") is not None
        alternate = [
            link for link in entry.iter(f"{ATOM}link") if link.get("rel") in ("alternate", None)
        ]
        assert alternate or entry.find(f"{ATOM}content") is not None
    parsed = feedparser.parse(body)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return root


def entry_id(canonical_url: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, canonical_url)}"


def test_feeds_are_valid_atom_with_stable_ids_and_folded_copies(
    web: tuple[str, WebData, str],
) -> None:
    base, data, _ = web
    paths = [
        "/feeds/site/ccdi.atom",
        "/feeds/site/cq.atom",
        "/feeds/digest/discipline.atom",
        "/feeds/search.atom?q=" + quote("违纪"),
        "/feeds/search.atom?q=" + quote("纪"),
        "/feeds/search.atom?q=pwned",  # the script title: escaped, still valid
        "/feeds/search.atom?q=" + quote("无此词"),  # empty: still a valid feed
    ]
    for path in paths:
        reply = get(base + path)
        assert reply.status == 200, path
        assert reply.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        root = valid(reply.body)
        self_link = root.find(f"{ATOM}link[@rel='self']")
        assert self_link is not None and self_link.get("href") == base + path
    parsed = feedparser.parse(get(base + "/feeds/search.atom?q=" + quote("违纪")).body)
    titles = [e.title for e in parsed.entries]
    assert titles.count("某局长严重违纪违法被开除党籍") == 1  # the copy is folded into it
    (story,) = [e for e in parsed.entries if e.title == "某局长严重违纪违法被开除党籍"]
    assert story.id == entry_id(f"https://site1.example.gov.cn/a/{data.ids['story']}.html")
    assert story.author == "中央纪委国家监委网站"  # author = 来源
    assert story.published == "2026-11-20T02:00:00Z"
    related = [link.href for link in story.links if link.rel == "related"]
    assert related == [f"http://site2.example.gov.cn/a/{data.ids['copy']}.html"]
    assert all(link.href.startswith("http") for e in parsed.entries for link in e.links)
    script = feedparser.parse(get(base + "/feeds/search.atom?q=pwned").body).entries[0]
    assert script.title == SCRIPT_TITLE  # text, as the reader must show it
    # the copy's own site feed has its entry, with its own id
    cq = feedparser.parse(get(base + "/feeds/site/cq.atom").body)
    assert entry_id(f"https://site2.example.gov.cn/a/{data.ids['copy']}.html") in [
        e.id for e in cq.entries
    ]
    edited = [e for e in feedparser.parse(get(base + "/feeds/site/ccdi.atom").body).entries]
    (e,) = [x for x in edited if x.title == "纪检监察机关通报典型问题"]
    assert e.updated > e.published  # an edit moves updated, not published


def test_validators_304_and_limit(web: tuple[str, WebData, str]) -> None:
    base, _, database_url = web
    url = base + "/feeds/site/ccdi.atom?limit=5"
    first = get(url)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert len(feedparser.parse(first.body).entries) == 5
    assert get(url, {"If-None-Match": etag}).status == 304
    assert get(url, {"If-None-Match": f'W/{etag}, "other"'}).status == 304
    assert get(url, {"If-None-Match": '"other"'}).status == 200
    assert get(url, {"If-Modified-Since": modified}).status == 304
    earlier = format_datetime(parsedate_to_datetime(modified).replace(year=2000), usegmt=True)
    assert get(url, {"If-Modified-Since": earlier}).status == 200
    assert get(url, {"If-Modified-Since": "not a date"}).status == 200
    assert get(url, {"If-None-Match": '"other"', "If-Modified-Since": modified}).status == 200
    # a new article changes both
    db = Database(database_url)
    add_article(db, 1, 999, title="新发布的违纪通报")
    db.dispose()
    again = get(url, {"If-None-Match": etag})
    assert again.status == 200 and again.headers["ETag"] != etag
    assert feedparser.parse(again.body).entries[0].title == "新发布的违纪通报"
    assert get(base + "/feeds/site/ccdi.atom?limit=201").status == 400
    assert get(base + "/feeds/site/ccdi.atom?limit=0").status == 400
    assert get(base + "/feeds/site/nosuch.atom").status == 404
    assert get(base + "/feeds/digest/nosuch.atom").status == 404
    assert get(base + "/feeds/search.atom").status == 400
