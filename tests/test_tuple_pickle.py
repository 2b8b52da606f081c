"""The records a crawl sends between its processes survive pickling unchanged, smaller."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from crawler.extract.records import ExtractedArticle, Fingerprint, PageLink, Selectors
from crawler.extraction import Extraction
from storage.link_records import NewLinkRef
from storage.records import NewArticle, StoreResult, Validators
from storage.search_terms import TermText
from storage.tuple_pickle import tuple_pickled

BEIJING = timezone(timedelta(hours=8))


def _extraction() -> Extraction:
    links = (
        PageLink("http://example.cn/a.html", "a", "首页"),
        PageLink("http://example.cn/logo.png", "img"),
    )
    article = ExtractedArticle(
        url="http://example.cn/t1.html",
        title="标题",
        publish_time=datetime(2026, 12, 1, 9, 30, tzinfo=BEIJING),
        source="中央纪委国家监委网站",
        author=None,
        body="第一段。\n第二段。",
        publish_time_precision="minute",
        editor="王五",
        links=links,
        warnings=("selector body matched nothing",),
        encoding="gb18030",
    )
    return Extraction(
        article=article,
        prints=Fingerprint(body_hash=-(2**63), bands=(1, -2, 2**63 - 1), length=8),
        terms=TermText("标 题 标题", "第 一 第一"),
        seconds={"extract": 0.001},
        cpu={"extract": 0.0009},
    )


RECORDS = [
    _extraction(),
    Selectors(title="h2.tit", body="//div[@class='content']"),
    NewArticle(
        site_id=3,
        url="http://example.cn/t1.html",
        fetched_url="http://example.cn/t1.html?from=list",
        title="标题",
        publish_time=None,
        source=None,
        author="张三",
        body="正文",
        bands=(5, 6),
        terms=TermText("", "正 文 正文"),
    ),
    StoreResult(new=(1, 2), unchanged=("http://example.cn/u",), duplicates=((2, 1),)),
    Validators(url="http://example.cn/t1.html", etag='"abc"', last_modified=None),
    NewLinkRef("http://example.cn/a", "http://example.cn/a#x", "http://example.cn/p", 1, "a", "文"),
    TermText("a", ""),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_a_record_comes_back_equal_and_of_its_class(record: object) -> None:
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        back = pickle.loads(pickle.dumps(record, protocol))
        assert back == record
        assert type(back) is type(record)


def test_the_pickle_holds_no_field_names() -> None:
    """The state is a tuple, not a dict of names: smaller on the wire."""
    ref = RECORDS[5]
    data = pickle.dumps(ref, pickle.HIGHEST_PROTOCOL)
    assert b"fetch_url" not in data and b"page_url" not in data


def test_a_one_field_record_is_a_tuple_of_one() -> None:
    @tuple_pickled
    @dataclass(frozen=True)
    class One:
        value: int

    assert One(7).__reduce__() == (One, (7,))


def test_a_field_outside_init_is_refused() -> None:
    @dataclass(frozen=True)
    class Derived:
        a: int
        b: int = field(init=False, default=0)

    @dataclass(frozen=True, kw_only=True)
    class KeywordOnly:
        a: int

    for cls in (Derived, KeywordOnly):
        with pytest.raises(TypeError, match="positional __init__ argument"):
            tuple_pickled(cls)
